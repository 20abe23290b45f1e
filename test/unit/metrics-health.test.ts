// The metrics exposition text (names, types, labels, buckets of the reference)
// and the health endpoints' semantics, over real HTTP on 127.0.0.1 with node:http
// (fetch refuses port 10080).
import { request } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLoopWatch, startHealthServer, startMetricsServer, type ReadinessChecks } from '../../runtime/health.js';
import { createMetrics, type ScrapeStats } from '../../runtime/metrics.js';

const info = { nodeIP: '198.18.0.10', nodeName: 'node-a', vxlanInterface: 'hybrid_vxlan0', vpcCIDRs: ['198.18.0.0/16'], podCIDRs: ['198.19.0.0/17', '198.19.128.0/17'] };
const counters = { rxBytes: 10, txBytes: 20, rxPackets: 1, txPackets: 2, rxDropped: 0, txDropped: 3, rxErrors: 0, txErrors: 4 };

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    })
      .on('error', reject)
      .end();
  });
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('metrics exposition', () => {
  it('exports every reference metric with its type, labels and buckets', async () => {
    let scrapes = 0;
    const m = createMetrics(info, () => {
      scrapes += 1;
      return Promise.resolve<ScrapeStats>({ vxlan: { ...counters, up: true, fdbEntries: 5, routeCount: 7 }, primary: { ...counters, rxBytes: 99n, name: 'eth0' } });
    });
    m.vtepAdd.inc();
    m.routeTableUpdateDuration.observe(0.3);
    m.leaderSetupDuration.observe(1.5);
    m.setGatewayState('leader');
    m.nodesSkipped.inc({ reason: 'pod-cidr-in-vpc' });
    const text = await m.registry.metrics();

    const types: Record<string, string> = {
      hybrid_gateway_info: 'gauge',
      hybrid_gateway_hybrid_nodes_configured: 'gauge',
      hybrid_gateway_vtep_add_total: 'counter',
      hybrid_gateway_vtep_add_errors_total: 'counter',
      hybrid_gateway_vtep_remove_total: 'counter',
      hybrid_gateway_vtep_remove_errors_total: 'counter',
      hybrid_gateway_leader_is_active: 'gauge',
      hybrid_gateway_leader_setup_duration_seconds: 'histogram',
      hybrid_gateway_aws_route_table_update_total: 'counter',
      hybrid_gateway_aws_route_table_update_errors_total: 'counter',
      hybrid_gateway_aws_route_table_update_duration_seconds: 'histogram',
      hybrid_gateway_vxlan_interface_up: 'gauge',
      hybrid_gateway_vxlan_up: 'gauge',
      hybrid_gateway_vxlan_fdb_entries: 'gauge',
      hybrid_gateway_vxlan_route_count: 'gauge',
      hybrid_gateway_primary_nic_info: 'gauge',
      hybrid_gateway_gateway_state: 'gauge',
      hybrid_gateway_failover_duration_seconds: 'histogram',
      hybrid_gateway_cilium_nodes_skipped: 'gauge',
      hybrid_gateway_cilium_nodes_skipped_total: 'counter',
    };
    for (const dir of ['rx', 'tx'])
      for (const what of ['bytes', 'packets', 'dropped', 'errors']) {
        types[`hybrid_gateway_vxlan_${dir}_${what}_total`] = 'gauge';
        types[`hybrid_gateway_primary_nic_${dir}_${what}_total`] = 'gauge';
      }
    for (const [name, type] of Object.entries(types)) expect(text, name).toContain(`# TYPE ${name} ${type}\n`);

    expect(text).toContain(
      'hybrid_gateway_info{node_ip="198.18.0.10",node_name="node-a",vxlan_interface="hybrid_vxlan0",vpc_cidr="198.18.0.0/16",pod_cidr="198.19.0.0/17,198.19.128.0/17"} 1',
    );
    expect(text).toContain('hybrid_gateway_vxlan_tx_errors_total 4');
    expect(text).toContain('hybrid_gateway_primary_nic_rx_bytes_total 99');
    expect(text).toContain('hybrid_gateway_vxlan_interface_up 1');
    expect(text).toContain('hybrid_gateway_vxlan_fdb_entries 5');
    expect(text).toContain('hybrid_gateway_vxlan_route_count 7');
    expect(text).toContain('hybrid_gateway_primary_nic_info{interface_name="eth0"} 1');
    expect(text).toContain('hybrid_gateway_vtep_add_total 1');
    expect(text).toContain('hybrid_gateway_gateway_state{state="leader"} 1');
    expect(text).toContain('hybrid_gateway_gateway_state{state="standby"} 0');
    expect(text).toContain('hybrid_gateway_cilium_nodes_skipped{reason="pod-cidr-in-vpc"} 1');
    for (const le of ['0.1', '0.25', '0.5', '1', '2', '5', '10', '+Inf']) expect(text).toContain(`hybrid_gateway_aws_route_table_update_duration_seconds_bucket{le="${le}"}`);
    for (const le of ['0.5', '1', '2', '5', '10', '15', '30', '+Inf']) expect(text).toContain(`hybrid_gateway_leader_setup_duration_seconds_bucket{le="${le}"}`);
    // One kernel read serves the whole scrape.
    expect(scrapes).toBe(1);
  });

  it('reports the device down and no interface counters when the kernel read fails', async () => {
    const m = createMetrics(info, () => Promise.reject(new Error('ENODEV')));
    const text = await m.registry.metrics();
    expect(text).toContain('hybrid_gateway_vxlan_interface_up 0');
    expect(text).not.toMatch(/^hybrid_gateway_vxlan_rx_bytes_total \d/m);
    expect(text).not.toMatch(/^hybrid_gateway_primary_nic_info\{/m);
  });

  it('hybrid_gateway_ready follows the readiness it is given, read at each scrape (0 before any is given)', async () => {
    const m = createMetrics(info, () => Promise.resolve({}));
    expect(await m.registry.metrics()).toMatch(/^hybrid_gateway_ready 0$/m);
    let ready = false;
    m.readinessFrom(() => ready);
    expect(await m.registry.metrics()).toMatch(/^hybrid_gateway_ready 0$/m);
    ready = true;
    expect(await m.registry.metrics()).toMatch(/^hybrid_gateway_ready 1$/m);
    ready = false;
    expect(await m.registry.metrics()).toMatch(/^hybrid_gateway_ready 0$/m);
  });

  it('is served on /metrics with the Prometheus content type', async () => {
    const m = createMetrics(info, () => Promise.resolve({}));
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, m.registry);
    servers.push(server);
    const port = (server.address() as { port: number }).port;
    const r = await get(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain');
    expect(r.body).toContain('# TYPE hybrid_gateway_leader_is_active gauge');
    expect((await get(port, '/other')).status).toBe(404);
  });
});

describe('health endpoints', () => {
  it('/readyz is 503 naming each failing check until all pass; /healthz is 200 while the loop runs', async () => {
    const checks: ReadinessChecks = { vxlanUp: false, informerSynced: true, dataPlaneConverged: false };
    const loop = new EventLoopWatch(50);
    const { server } = await startHealthServer({ host: '127.0.0.1', port: 0 }, { readiness: () => ({ ...checks }) }, { loop });
    servers.push(server);
    const port = (server.address() as { port: number }).port;
    let r = await get(port, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'not ready', failing: ['vxlanUp', 'dataPlaneConverged'] });
    checks.vxlanUp = true;
    checks.dataPlaneConverged = true;
    r = await get(port, '/readyz?verbose');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'ok', failing: [] });
    expect((await get(port, '/healthz')).status).toBe(200);
    loop.stop();
  });

  it('/readyz stays 200 with refused nodes, listing them (at most 50) and their count', async () => {
    const loop = new EventLoopWatch(50);
    const refused = Array.from({ length: 60 }, (_, i) => ({ node: `hyb-${String(i).padStart(2, '0')}`, reason: 'add route: EINVAL' }));
    const { server } = await startHealthServer(
      { host: '127.0.0.1', port: 0 },
      { readiness: () => ({ vxlanUp: true, informerSynced: true, dataPlaneConverged: true }), refusedNodes: () => refused },
      { loop },
    );
    servers.push(server);
    const r = await get((server.address() as { port: number }).port, '/readyz');
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { status: string; refusedCount: number; refusedNodes: unknown[] };
    expect(body).toMatchObject({ status: 'ok', refusedCount: 60 });
    expect(body.refusedNodes).toHaveLength(50);
    expect(body.refusedNodes[0]).toEqual({ node: 'hyb-00', reason: 'add route: EINVAL' });
    loop.stop();
  });

  it('/healthz fails when the event loop was blocked longer than the limit', async () => {
    const loop = new EventLoopWatch(1000);
    const { server } = await startHealthServer({ host: '127.0.0.1', port: 0 }, { readiness: () => ({ vxlanUp: true, informerSynced: true, dataPlaneConverged: true }) }, { loop, maxEventLoopDelayMs: 100 });
    servers.push(server);
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => setTimeout(r, 60)); // the delay monitor's first samples
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // a wedged loop, as a stuck reconcile would cause
    }
    await new Promise((r) => setTimeout(r, 30));
    const r = await get(port, '/healthz');
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'event loop stalled', limitMs: 100 });
    loop.stop();
  });
});
