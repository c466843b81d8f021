/**
 * `opsrail/cdk`: the construct a user's CDK app instantiates (README "Deploying from your own
 * app").
 */
export { Opsrail, type OpsrailProps } from './opsrail';
export { OpsrailCore } from './opsrail-core';
