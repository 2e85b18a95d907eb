import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (where package.json is), from src/ or from dist/src/ alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The sample tenant served by `entra emulate` and `--demo` when no other tenant is given. */
export function sampleTenantPath(): string {
  return join(packageRoot(), 'samples', 'tenant.json');
}

/** The sample settings file that a "settings file not found" error points to. */
export function sampleSettingsPath(): string {
  return join(packageRoot(), 'samples', 'appsettings.agent.json');
}
