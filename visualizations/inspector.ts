// The live inspector lives in runtime/ (the gateway's --statechart-inspector
// flag uses it and the image ships runtime/ only); re-exported here beside the
// other review tools.
export * from '../runtime/inspector.js';
