export { ASSET_PATH, STATUS_ASSETS } from './assets.js';
export { renderBadge, renderEnvironmentBadge, renderMissingBadge } from './badge.js';
export { MalformedCursorError, statusAnswer, TileChanges } from './changes.js';
export { ProbeHistory } from './history.js';
export { parseStatusPageMode, type StatusPageMode, statusPageCredentialsProblem } from './mode.js';
export {
  buildStatusModel,
  type StatusModel,
  type StatusViewOptions,
  UnknownEnvironmentError,
} from './model.js';
export {
  renderCodesPage,
  renderStatusPageBytes,
  STATUS_API_PATH,
  STATUS_PATH,
} from './page.js';
export { pollerStatusSource } from './pollerSource.js';
export type { StatusSource, SurfaceReading } from './source.js';
