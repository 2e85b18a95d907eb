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
export { resolveMapping, readMappingFile, type Mapping } from './settings/mapping.js';
export { graphDelta, type SourceMsg } from './sources/graph-delta.js';
export { openCommandCsv, readCommandCsv, type CommandRow } from './sources/command-csv.js';
export { createRouter, exportTables } from './streams/route-by-type.js';
export { toRequest } from './streams/to-request.js';
export { ToolError, UsageError, GraphHttpError, EXIT } from './errors.js';
export type { GraphObject, TableRow, ResultRow } from './types.js';
