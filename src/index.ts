/**
 * The public pieces of entra-connector, for programs and samples: the commands, the emulator, and the
 * building blocks of the export and fulfill pipelines.
 */
export { exportCommand, type ExportArgs } from './commands/export.js';
export { fulfillCommand, type FulfillArgs } from './commands/fulfill.js';
export { doctorCommand, type DoctorArgs } from './commands/doctor.js';
export { startEmulator, type Emulator, type EmulatorOptions } from './emulator/server.js';
export { readTenantFile, type TenantData } from './emulator/tenant.js';
export { createGraphClient, type GraphClient } from './graph/client.js';
export { createTokenProvider, type TokenProvider } from './graph/token.js';
export {
  resolveConnection,
  readSettingsFile,
  environmentLayer,
  type ConnectionSettings,
} from './settings/settings.js';
export { resolveMapping, readMappingFile, selectQuery, type Mapping } from './settings/mapping.js';
// The export pipeline, stage by stage, as `entra export` runs it (src/commands/export-run.ts):
// graphDelta → routeByTypeStream → splitNavigationStream → createRoundState(...).through → a table writer.
export { graphDelta, type DeltaSourceOptions } from './sources/graph-delta.js';
export { createRouter, createObjectRouter, routeByTypeStream } from './streams/route-by-type.js';
export {
  createNavigationSplitter,
  splitNavigation,
  splitNavigationStream,
} from './streams/split-navigation.js';
export { createRoundState, type EntityRound, type RoundState } from './streams/round-state.js';
export { exportTables } from './streams/export-tables.js';
export { createTableWriter, createCsvStdoutWriter, createNdjsonWriter } from './sinks/csv-file.js';
export { readCookie, stageCookies, writeCookies } from './sinks/cookie-file.js';
// The fulfill pipeline (src/commands/fulfill.ts): fromCommandCsvs → skipJournaled → buildRequests →
// createBatchStage(...).through → settlePasswords → withResults → recordDone → createResultsSink.
export { openCommandCsv, readCommandCsv, type CommandRow } from './sources/command-csv.js';
export { fromCommandCsvs } from './sources/command-rows.js';
export { createInputWindow, type InputWindow } from './streams/input-window.js';
export { buildRequest, buildRequests, planRequests } from './streams/build-requests.js';
export { toRequest } from './streams/to-request.js';
export { createBatchStage, type BatchStage } from './sinks/batch-stage.js';
export { BatchWriter } from './sinks/batch-writer.js';
export { skipJournaled, recordStarted, recordDone } from './sinks/journal-stages.js';
export { openJournal, fingerprintFile } from './sinks/journal.js';
export { preparePasswords, settlePasswords } from './sinks/password-stages.js';
export { createResultsSink, createResultsWriter, withResults } from './sinks/results.js';
export {
  ToolError,
  UsageError,
  GraphHttpError,
  EXIT,
  ERROR_CODES,
  exitCodeOf,
  type ErrorCode,
} from './errors.js';
export { retryDelay } from './graph/retry-delay.js';
export { graphErrorOf } from './graph/graph-error.js';
export type {
  ExportMsg,
  FulfillItem,
  FulfillMsg,
  GraphObject,
  ResultRow,
  RoundMode,
  SourceMsg,
  TableRow,
} from './types.js';
