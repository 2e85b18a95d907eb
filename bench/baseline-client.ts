/**
 * The baselines' Graph client, set up as the SDK's docs show it: msal-node's client credentials
 * behind an authProvider, `Client.init` on the settings' Graph URL.
 */
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { Client } from '@microsoft/microsoft-graph-client';

/** The first connection of an `appsettings.agent.json`, and an SDK client signed in as its app. */
export function graphSdkClient(settingsPath: string): { name: string; graphBase: string; client: Client } {
  const connections = JSON.parse(readFileSync(settingsPath, 'utf8')).Connections as Record<
    string,
    Record<string, string>
  >;
  const [name, c] = Object.entries(connections)[0]!;
  const authority = c.MicrosoftAuthorityPath!.replace('{0}', c.TenantId!);
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: c.ApplicationId!,
      clientSecret: c.ApplicationKey!,
      authority,
      knownAuthorities: [new URL(authority).host],
    },
  });
  const graphBase = c.MicrosoftGraphPathApi!.replace(/\/$/, '');
  const client = Client.init({
    baseUrl: graphBase.replace(/\/v1\.0$/, ''),
    defaultVersion: 'v1.0',
    // The SDK sends tokens only to Microsoft's Graph hosts, and to the ones listed here.
    customHosts: new Set([new URL(graphBase).hostname]),
    authProvider: (done) => {
      msal.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }).then(
        (r) => done(null, r?.accessToken ?? null),
        (e: unknown) => done(e as Error, null),
      );
    },
  });
  return { name, graphBase, client };
}
