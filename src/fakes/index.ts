/** Local fakes of the clouds the exporter probes, for tests and the built-in demo. */
export {
  type AccessDenyForm,
  type AccessGateFake,
  type ServiceToken,
  startAccessGate,
} from './accessGate.js';
export {
  type CloudflareFake,
  type FakeDeploymentSpec,
  type PagesEnvironment,
  type StageStatus,
  startCloudflareApi,
} from './cloudflareApi.js';
export { type DynoState, type FakeHerokuAppSpec, type HerokuFake, startHerokuApi } from './herokuApi.js';
export { type FakeControls, HUGE_BODY_BYTES, type MalformedBody } from './httpFake.js';
export { type InfisicalFake, type InfisicalMode, startInfisical } from './infisical.js';
