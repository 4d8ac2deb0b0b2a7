import test from 'ava';
import { ConfigError, loadConfig, parseFlags } from '../../runtime/config.js';

test('defaults need no settings, and the result is frozen', (t) => {
  const cfg = loadConfig(new Map(), {});
  t.is(cfg.port, 7600);
  t.is(cfg.databaseUrl, null);
  t.is(cfg.dataDir, './.data');
  t.true(Object.isFrozen(cfg));
});

test('flags override the environment, which overrides defaults', (t) => {
  const { flags } = parseFlags(['--port', '9000', '--log-level=debug']);
  const cfg = loadConfig(flags, { TERTULIA_PORT: '8000', TERTULIA_MAX_PENDING: '7', DATABASE_URL: 'postgres://x@y/z' });
  t.is(cfg.port, 9000);
  t.is(cfg.logLevel, 'debug');
  t.is(cfg.maxPending, 7);
  t.is(cfg.databaseUrl, 'postgres://x@y/z');
});

test('every problem is listed in one error', (t) => {
  const { flags } = parseFlags(['--port', 'eighty', '--no-such-thing', '--log-level', 'loud']);
  const err = t.throws(() => loadConfig(flags, { DATABASE_URL: 'mysql://nope', TERTULIA_HEARTBEAT_MS: '50000' }), {
    instanceOf: ConfigError,
  });
  const text = err!.problems.join('\n');
  t.regex(text, /--port: "eighty" is not an integer/);
  t.regex(text, /unknown flag --no-such-thing/);
  t.regex(text, /--log-level: "loud"/);
  t.regex(text, /DATABASE_URL: expected a postgres/);
  t.regex(text, /idleTimeoutMs must be greater than heartbeatMs/);
  t.is(err!.problems.length, 5);
});

test('ranges are enforced', (t) => {
  const err = t.throws(() => loadConfig(new Map([['max-pending', '0']]), {}), { instanceOf: ConfigError });
  t.regex(err!.message, /--max-pending: 0 is outside 1\.\.65536/);
});

test('the chunk size follows a smaller frame cap unless set explicitly', (t) => {
  t.is(loadConfig(new Map(), {}).chunkBytes, 256 * 1024);
  t.is(loadConfig(new Map([['max-frame-bytes', '65536']]), {}).chunkBytes, 65536 - 256);
  const err = t.throws(() => loadConfig(new Map([['max-frame-bytes', '65536'], ['chunk-bytes', '65536']]), {}));
  t.regex(err?.message ?? '', /chunkBytes must be at least 256 below maxFrameBytes/);
  t.throws(() => loadConfig(new Map(), { TERTULIA_MAX_FRAME_BYTES: '65536', TERTULIA_CHUNK_BYTES: '65500' }));
});
