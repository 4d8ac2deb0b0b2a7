import type { Logger } from 'pino';
import { ErrorCode, TertuliaError } from '../../protocol/errors.js';
import { PROTOCOL_VERSION, type Limits, type Op, type Requests, type Results } from '../../protocol/messages.js';
import type { Hub } from '../../actors/hub.js';
import type { ActorDirectory } from '../../actors/directory.js';
import type { UserProtocol } from '../../actors/user-actor.js';
import type { AuthService } from '../auth.js';
import type { Connection, RequestHandler } from './connection.js';

export interface SessionDeps {
  auth: AuthService;
  users: ActorDirectory<UserProtocol>;
  hub: Hub;
  limits: Limits;
  server: string;
  log: Logger;
  /** Resolves once the pod has joined the cluster; requests wait for it. */
  ready: Promise<void>;
}

const OPEN_OPS = new Set<Op>(['hello', 'ping', 'register', 'login', 'auth']);

/**
 * The state of one connection: greeted, then authenticated. Authenticated
 * requests go to the user's actor; the rest are answered here.
 */
export class Session implements RequestHandler {
  private greeted = false;
  private who: { user: number; name: string; tokenHash: Buffer } | null = null;
  // Requests that arrive while a login is in flight wait for it, so a client
  // may pipeline `auth` and `subscribe`.
  private gate: Promise<unknown> | null = null;
  private started = false;
  private gone = false;

  constructor(
    private readonly conn: Connection,
    private readonly deps: SessionDeps,
  ) {}

  async handle(op: Op, args: Requests[Op]): Promise<unknown> {
    // Awaited only until the pod has joined; afterwards requests take no extra turn.
    if (!this.started) {
      await this.deps.ready;
      this.started = true;
    }
    if (op === 'ping') return { ts: Date.now() } satisfies Results['ping'];
    if (!this.greeted && op !== 'hello') {
      throw new TertuliaError(ErrorCode.HELLO_REQUIRED, 'the first request must be hello');
    }
    if (op === 'hello') return this.hello(args as Requests['hello']);
    if (op === 'register' || op === 'login' || op === 'auth') {
      const p = (this.gate ?? Promise.resolve()).then(() => this.authenticate(op, args));
      const gate = p.catch(() => {});
      this.gate = gate;
      void gate.then(() => {
        if (this.gate === gate) this.gate = null;
      });
      return p;
    }
    if (this.gate) await this.gate;
    if (!this.who) throw new TertuliaError(ErrorCode.NOT_AUTHENTICATED, `"${op}" needs an authenticated session`);
    if (op === 'logout') return this.logout();
    if (OPEN_OPS.has(op)) throw new TertuliaError(ErrorCode.BAD_REQUEST, `unexpected "${op}"`);
    return this.deps.users.ask(this.who.user, 'request', { conn: this.conn.id, op, args });
  }

  closed(): void {
    this.gone = true;
    this.unbind();
  }

  private hello(r: Requests['hello']): Results['hello'] {
    if (r.version !== PROTOCOL_VERSION) {
      throw new TertuliaError(ErrorCode.UNSUPPORTED_VERSION, `this server speaks version ${PROTOCOL_VERSION}`);
    }
    this.greeted = true;
    return { version: PROTOCOL_VERSION, server: this.deps.server, limits: this.deps.limits };
  }

  private async authenticate(op: 'register' | 'login' | 'auth', args: Requests[Op]): Promise<unknown> {
    if (this.who) throw new TertuliaError(ErrorCode.ALREADY_AUTHENTICATED, 'already authenticated');
    const { auth } = this.deps;
    if (op === 'auth') {
      const s = await auth.resume((args as Requests['auth']).token);
      await this.bind(s.user, s.name, s.tokenHash);
      return { user: s.user, name: s.name, expires: s.expires } satisfies Results['auth'];
    }
    const { name, password } = args as Requests['login'];
    const s = op === 'register' ? await auth.register(name, password) : await auth.login(name, password);
    await this.bind(s.user, s.name, s.tokenHash);
    return { user: s.user, name: s.name, token: s.token, expires: s.expires } satisfies Results['login'];
  }

  private async bind(user: number, name: string, tokenHash: Buffer): Promise<void> {
    if (this.gone) throw new TertuliaError(ErrorCode.NOT_AUTHENTICATED, 'connection closed');
    this.deps.hub.register(this.conn, user, name);
    this.who = { user, name, tokenHash };
    await this.deps.users.ask(user, 'attach', { conn: this.conn.id, name });
    this.deps.log.debug({ conn: this.conn.id, user }, 'authenticated');
  }

  private async logout(): Promise<Results['logout']> {
    const tokenHash = this.who!.tokenHash;
    this.unbind();
    await this.deps.auth.logout(tokenHash);
    return {};
  }

  private unbind(): void {
    const who = this.who;
    if (!who) return;
    this.who = null;
    const { hub, users } = this.deps;
    const unfollowed = hub.unregister(this.conn.id);
    users.ask(who.user, 'detach', { conn: this.conn.id, unfollowed }).catch(() => {});
  }
}
