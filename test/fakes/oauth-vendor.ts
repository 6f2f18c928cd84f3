/**
 * What the OAuth-protected vendor fakes (Marketo, Salesforce) have in common: client credentials,
 * a store of issued tokens a test can expire at once, and the server with its request record and
 * fault script.
 */
import { randomBytes } from 'node:crypto';
import type { ConformanceSetup } from '../conformance/suite.ts';
import { VendorServer, type Fault, type RecordedRequest } from './vendor-server.ts';

/** Issued OAuth tokens and their expiry; `expireAll` makes every current token stale at once. */
export class TokenStore {
  readonly #expiresAt = new Map<string, number>();
  issued = 0;

  issue(ttlMs: number, prefix = 'tok'): string {
    const token = `${prefix}-${randomBytes(12).toString('hex')}`;
    this.#expiresAt.set(token, Date.now() + ttlMs);
    this.issued += 1;
    return token;
  }

  /** `valid`, `expired`, or `invalid` for a token never issued (or a missing header). */
  check(authorization: string | undefined): 'valid' | 'expired' | 'invalid' {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    const expiresAt = token === undefined ? undefined : this.#expiresAt.get(token);
    if (expiresAt === undefined) return 'invalid';
    return Date.now() < expiresAt ? 'valid' : 'expired';
  }

  expireAll(): void {
    for (const token of this.#expiresAt.keys()) this.#expiresAt.set(token, 0);
  }
}

export abstract class OAuthVendorFake {
  readonly tokens = new TokenStore();
  readonly server = new VendorServer();

  constructor(
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  get url(): string {
    return this.server.url;
  }

  /** Finishes every unfinished import or job now, as the vendor eventually does. */
  abstract completeAll(): void;

  /** The conformance suite's view of this fake, with `config` as the destination's raw config. */
  conformanceSetup(config: unknown): ConformanceSetup {
    return {
      config,
      cleanup: () => this.close(),
      completeImports: async () => this.completeAll(),
      vendorCalls: async () => this.server.count(),
    };
  }

  /** Requests received so far, optionally of one route, oldest first. */
  requests(route?: string): RecordedRequest[] {
    return this.server.requests.filter((r) => route === undefined || r.route === route);
  }

  script(...faults: Fault[]): void {
    this.server.script(...faults);
  }

  /** Every token issued so far is expired from now on: the next call with one is refused. */
  expireTokens(): void {
    this.tokens.expireAll();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
