// The gateway's ENI: read it (source/destination check, private IP, VPC) and
// find it by private IP (an EC2-side alternative to IMDS). The gateway never
// changes the check itself: the node group or NodeClass switches it off.
import { DescribeNetworkInterfacesCommand, type EC2Client, type NetworkInterface } from '@aws-sdk/client-ec2';
import { AwsInputError, Ec2Error, toEc2Error } from './errors.js';
import { DEFAULT_AWS_RETRY_POLICY, withRetry, type RetryInfo, type RetryPolicy } from './retry.js';

export interface EniInfo {
  readonly networkInterfaceId: string;
  readonly privateIpAddress: string | undefined;
  readonly macAddress: string | undefined;
  readonly vpcId: string | undefined;
  readonly subnetId: string | undefined;
  readonly instanceId: string | undefined;
  /** undefined when EC2 did not say. */
  readonly sourceDestCheck: boolean | undefined;
  /** The interface's security groups (sg-…), as DescribeNetworkInterfaces lists them. */
  readonly securityGroupIds?: readonly string[];
}

export interface SourceDestCheckReport {
  readonly networkInterfaceId: string;
  readonly sourceDestCheck: boolean | undefined;
  /** False while the check is on: EC2 drops packets the gateway forwards. */
  readonly canForward: boolean;
  readonly message: string;
}

export interface CallOptions {
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
  readonly onFailedAttempt?: (info: RetryInfo) => void;
}

const ENI_ID = /^eni-[0-9a-f]{8,17}$/;

export function checkEniId(id: string): string {
  if (!ENI_ID.test(id)) throw new AwsInputError(`"${id}" is not a network interface id (want eni- and 8 or 17 hex digits)`);
  return id;
}

function toInfo(n: NetworkInterface): EniInfo {
  return {
    networkInterfaceId: n.NetworkInterfaceId ?? '',
    privateIpAddress: n.PrivateIpAddress,
    macAddress: n.MacAddress,
    vpcId: n.VpcId,
    subnetId: n.SubnetId,
    instanceId: n.Attachment?.InstanceId,
    sourceDestCheck: typeof n.SourceDestCheck === 'boolean' ? n.SourceDestCheck : undefined,
    securityGroupIds: (n.Groups ?? []).flatMap((g) => (typeof g.GroupId === 'string' ? [g.GroupId] : [])),
  };
}

export async function describeNetworkInterface(ec2: EC2Client, eniId: string, options: CallOptions = {}): Promise<EniInfo> {
  checkEniId(eniId);
  const out = await withRetry(
    async () => {
      try {
        return await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }));
      } catch (err) {
        throw toEc2Error('DescribeNetworkInterfaces', err, eniId);
      }
    },
    options.retry ?? DEFAULT_AWS_RETRY_POLICY,
    { ...options, what: 'DescribeNetworkInterfaces' },
  );
  const found = (out.NetworkInterfaces ?? []).find((n) => n.NetworkInterfaceId === eniId);
  if (!found) {
    throw new Ec2Error('DescribeNetworkInterfaces', 'InvalidNetworkInterfaceID.NotFound', `DescribeNetworkInterfaces did not return ${eniId}`, 'not-found');
  }
  return toInfo(found);
}

export function sourceDestCheckReport(info: EniInfo): SourceDestCheckReport {
  const on = info.sourceDestCheck;
  return {
    networkInterfaceId: info.networkInterfaceId,
    sourceDestCheck: on,
    canForward: on === false,
    message:
      on === false
        ? `source/destination check is off on ${info.networkInterfaceId}: the gateway can forward`
        : on === true
          ? `source/destination check is ON on ${info.networkInterfaceId}: EC2 drops traffic the gateway forwards; disable it (aws ec2 modify-network-interface-attribute --network-interface-id ${info.networkInterfaceId} --no-source-dest-check)`
          : `EC2 did not report the source/destination check of ${info.networkInterfaceId}`,
  };
}

/** Reads the ENI and reports whether its source/destination check lets the gateway forward. */
export async function checkSourceDestCheck(ec2: EC2Client, eniId: string, options: CallOptions = {}): Promise<SourceDestCheckReport> {
  return sourceDestCheckReport(await describeNetworkInterface(ec2, eniId, options));
}

/** The interface holding a private IPv4 address (optionally on a given instance); EC2-side alternative to IMDS. */
export async function findNetworkInterfaceByPrivateIp(ec2: EC2Client, privateIp: string, options: CallOptions & { instanceId?: string } = {}): Promise<EniInfo> {
  const filters = [{ Name: 'addresses.private-ip-address', Values: [privateIp] }];
  if (options.instanceId !== undefined) filters.push({ Name: 'attachment.instance-id', Values: [options.instanceId] });
  const out = await withRetry(
    async () => {
      try {
        return await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: filters }));
      } catch (err) {
        throw toEc2Error('DescribeNetworkInterfaces', err, privateIp);
      }
    },
    options.retry ?? DEFAULT_AWS_RETRY_POLICY,
    { ...options, what: 'DescribeNetworkInterfaces' },
  );
  const list = (out.NetworkInterfaces ?? []).filter((n) => typeof n.NetworkInterfaceId === 'string');
  if (list.length !== 1) {
    throw new Ec2Error(
      'DescribeNetworkInterfaces',
      'InvalidNetworkInterfaceID.NotFound',
      list.length === 0 ? `no network interface holds ${privateIp}` : `${list.length} network interfaces hold ${privateIp}; give the instance id`,
      'not-found',
    );
  }
  return toInfo(list[0] as NetworkInterface);
}
