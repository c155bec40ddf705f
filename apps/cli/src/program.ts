import { Command, CommanderError, Option } from 'commander';
import { TOOL_VERSION } from '@mfb/backup';
import type { Context, GlobalOptions } from './context.js';
import { UsageError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { Output } from './output.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const EXIT_CODES_HELP = `
Exit codes:
  0  ok                          4  not found (backup, artifact, database id)
  1  other failure               5  integrity/authentication failure (checksum, wrong key, tampered)
  2  usage error                 6  target busy/exists/not writable
  3  config error                7  source database problem (missing, not SQLite, corrupt, locked, on another host)
                                 8  database locked by a worker job or another backupctl (--force)
`;

/**
 * Run the CLI with `argv` (as `process.argv`). Returns the exit code; never throws.
 * `streams` lets tests capture output in-process (the CLI tests run it as a real process).
 */
export async function runCli(argv: string[], streams: { stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream } = {}): Promise<number> {
  const stdout = streams.stdout ?? process.stdout;
  const stderr = streams.stderr ?? process.stderr;
  // Known before parsing, so even a usage error honours --json / --debug.
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const out = new Output(json, debug, stdout, stderr);
  let ctx: Context | undefined;
  // Command modules (and the engine, catalog and config behind them) load only when a command
  // runs: `--version` and `--help` stay fast (see bench/README.md, CLI start-up).
  const context = async (cmd: Command): Promise<Context> => {
    const g = cmd.optsWithGlobals() as GlobalOptions;
    if (!ctx) {
      const [{ Context }, { createProgress }] = await Promise.all([import('./context.js'), import('./progress.js')]);
      ctx = new Context(g, out, createProgress({ stream: stderr, quiet: Boolean(g.quiet) || g.progress === false }));
    }
    return ctx;
  };
  const emit = <T>(data: T, human: (d: T) => string) => out.result(data, () => human(data));

  const program = new Command('backupctl')
    .description('MyFinance Backup operator CLI: back up, verify, inspect and restore SQLite databases offline (no Redis or API needed).')
    .version(TOOL_VERSION, '-V, --version')
    .option('-c, --config <file>', 'config file (default: $MFB_CONFIG, else ./mfb.config.yaml if present, else the embedded defaults)')
    .option('--json', 'print the result (or error) as one JSON document on stdout')
    .option('--debug', 'print stack traces on errors')
    .option('-q, --quiet', 'no progress output')
    .option('--no-progress', 'no progress output')
    .addHelpText('after', EXIT_CODES_HELP)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s), outputError: () => {} });

  program
    .command('init')
    .description('write a commented config file, generate an encryption key (0600), create the data directories (0700), run catalog migrations')
    .option('--data-dir <dir>', 'data directory for storage, catalog and scratch files', './data')
    .option('--key-id <id>', 'id of the generated encryption key', 'primary')
    .option('--database <id=path>', 'configure this database (encrypted with the generated key); default: the demo database')
    .option('--force', 'overwrite an existing config file (an existing key file is never overwritten)')
    .action(async (o, cmd: Command) => {
      const { runInit, humanInit } = await import('./commands/init.js');
      emit(await runInit(await context(cmd), o), humanInit);
    });

  program
    .command('backup')
    .description('back up a configured database into primary storage and record it in the catalog')
    .argument('<database-id>', 'database id from the config')
    .addOption(new Option('--compression <algorithm>', 'override the configured compression').choices(['gzip', 'zstd', 'none']))
    .option('--level <n>', 'override the compression level (gzip 1-9, zstd 1-19)')
    .option('--busy-timeout <seconds>', 'how long to wait for a writer holding the source locked (default 30)')
    .option('--full', 'take a full backup even when an incremental (delta) one is due')
    .option('--lock-wait <seconds>', 'how long to wait for the per-database lock a worker job or another backupctl holds (default 30; then exit 8)')
    .option('--force', 'proceed without the per-database lock (workers take it too): a running job of the database may collide')
    .option('--any-host', 'back up a database whose databases[].host is another machine: the file at its path on this one')
    .action(async (id: string, o, cmd: Command) => {
      const { runBackup, humanBackup } = await import('./commands/backup.js');
      emit(await runBackup(await context(cmd), id, o), humanBackup);
    });

  const sourceOptions = (c: Command) =>
    c
      .option('--from <target>', 'read from this configured target (e.g. a bucket) instead of primary storage')
      .option('--from-dir <dir>', 'read from this storage directory (or storage URL) instead of the configured storage; no catalog needed')
      .option('--key-file <[id=]path>', 'decryption key file (repeatable); without id= it is used for the key id the manifest names', collect, [])
      .option('--tmp-dir <dir>', 'scratch directory (default: config tmpDir, or the OS temp dir when working from files)');

  sourceOptions(
    program
      .command('restore')
      .description('restore a backup (id, artifact key, or artifact file path) after checking it; never touches the target before every check passed')
      .argument('<backup>', 'backup id, artifact key, or path of an artifact file (its .manifest.json must be beside it)')
      .requiredOption('--to <path>', 'where to restore')
      .option('--replace', 'replace an existing (possibly live) database through the SQLite backup API, keeping a safety copy')
      .option('--safety-dir <dir>', 'where the pre-restore safety copy goes (default: <target dir>/.pre-restore)')
      .option('--busy-timeout <seconds>', 'with --replace: how long to wait for connections holding the target locked (default 10)')
      .option('--lock-wait <seconds>', 'with --replace of a configured database: how long to wait for its per-database lock (default 30; then exit 8)')
      .option('--force', 'with --replace: proceed without the per-database lock of the configured database at --to'),
  ).action(async (ref: string, o, cmd: Command) => {
    const { runRestore, humanRestore } = await import('./commands/restore.js');
    emit(await runRestore(await context(cmd), ref, o), humanRestore);
  });

  sourceOptions(
    program
      .command('verify')
      .description('verify a backup: checksums, authentication, decompression and integrity_check, without writing any target')
      .argument('<backup>', 'backup id, artifact key, or artifact file path'),
  ).action(async (ref: string, o, cmd: Command) => {
    const { runVerify, humanVerify } = await import('./commands/verify.js');
    emit(await runVerify(await context(cmd), ref, o), humanVerify);
  });

  program
    .command('inspect')
    .description('print the manifest and encryption header of a backup (no key needed)')
    .argument('<backup>', 'backup id, artifact key, or artifact file path')
    .option('--from-dir <dir>', 'read from this storage directory instead of the configured storage')
    .action(async (ref: string, o, cmd: Command) => {
      const { runInspect, humanInspect } = await import('./commands/inspect.js');
      emit(await runInspect(await context(cmd), ref, o), humanInspect);
    });

  const remoteOptions = (c: Command) =>
    c
      .option('--api-url <url>', 'API base URL (default: from the config api.host/api.port)')
      .option('--api-key-file <file>', 'file holding the API key (default: a configured API key with the needed scope)');

  remoteOptions(
    program
      .command('list')
      .description('list backups from the catalog, newest first (or from a running API with --remote)')
      .argument('[database-id]', 'only this database')
      .option('--limit <n>', 'at most n backups per database (1-500)', '50')
      .option('--all', 'every backup (follow all pages)')
      .option('--remote', 'ask the running API instead of the local catalog'),
  ).action(async (id: string | undefined, o, cmd: Command) => {
    if (o.remote) {
    const { runRemoteList, humanRemoteList } = await import('./commands/remote.js');
    emit(await runRemoteList(await context(cmd), id, o), humanRemoteList);
    } else {
    const { runList, humanList } = await import('./commands/list.js');
    emit(await runList(await context(cmd), id, o), humanList);
    }
  });

  const catalogCmd = program.command('catalog').description('catalog maintenance');
  catalogCmd
    .command('migrate')
    .description('copy a catalog to another store, e.g. the embedded SQLite file to a PostgreSQL server shared by several hosts (idempotent; the source is only read)')
    .requiredOption('--from <catalog>', 'sqlite:<file> (or a path) or postgres://user:pass@host/db[?schema=mfb]')
    .requiredOption('--to <catalog>', 'sqlite:<file> (or a path) or postgres://user:pass@host/db[?schema=mfb]')
    .action(async (o: { from: string; to: string }) => {
      const { runCatalogMigrate, humanCatalogMigrate } = await import('./commands/catalog.js');
      emit(await runCatalogMigrate(o), humanCatalogMigrate);
    });
  catalogCmd
    .command('rebuild')
    .description('recreate the catalog records from the manifests in storage (storage is the source of truth); idempotent; finding no manifest at all fails (exit 4)')
    .option('--from <target>', 'rebuild from this configured target (e.g. a bucket) instead of primary storage (default: local)')
    .option('--from-dir <dir>', 'rebuild from this backup folder (a copied storage directory) or storage URL, recorded as primary storage (disaster recovery: no config needed)')
    .addOption(new Option('--target <name>', 'alias of --from').hideHelp())
    .option('--mark-missing', 'also mark copies the catalog lists but storage no longer has as deleted')
    .action(async (o, cmd: Command) => {
    const { runCatalogRebuild, humanCatalogRebuild } = await import('./commands/catalog.js');
    emit(await runCatalogRebuild(await context(cmd), o), humanCatalogRebuild);
  });

  program
    .command('prune')
    .description('apply retention to a target now, as the worker prune job does (under the per-database lock in Redis); --dry-run shows what it would keep and delete, and why')
    .argument('<database-id>', 'database id from the config')
    .option('--target <name>', 'configured target (local = primary storage)', 'local')
    .option('--dry-run', 'plan only: print the table (or --json) and delete nothing (needs no Redis)')
    .option('--force', 'Redis unreachable: prune without the per-database lock (stop every worker first)')
    .action(async (id: string, o, cmd: Command) => {
      const { runPrune, humanPrune } = await import('./commands/prune.js');
      emit(await runPrune(await context(cmd), id, o), humanPrune);
    });

  program
    .command('rekey')
    .description('re-encrypt existing backups with another configured key (streamed, verified; old copies deleted only after the new ones verify)')
    .argument('<database-id>', 'database id from the config')
    .option('--backup <id>', 'this backup')
    .option('--all', 'every live backup of the database (those already on the key are left alone)')
    .option('--to-key <id>', 'key id from the config to re-encrypt with')
    .option('--force', 'go on without the per-database lock when Redis cannot be reached (stop every worker first)')
    .addOption(new Option('--test-only-pause-at <step>').hideHelp())
    .action(async (id: string, o, cmd: Command) => {
      const { runRekey, humanRekey } = await import('./commands/rekey.js');
      emit(await runRekey(await context(cmd), id, o), humanRekey);
    });

  program
    .command('compact')
    .description('merge the chain of an incremental backup (default: the newest, when it is a delta) into a new full backup, from storage only (the live database is not read); retention then deletes the old chain')
    .argument('<database-id>', 'database id from the config')
    .option('--backup <id>', 'the delta to compact')
    .option('--lock-wait <seconds>', 'how long to wait for the per-database lock a worker job or another backupctl holds (default 30; then exit 8)')
    .option('--force', 'proceed without the per-database lock (workers take it too): a running job of the database may collide')
    .action(async (id: string, o, cmd: Command) => {
      const { runCompact, humanCompact } = await import('./commands/compact.js');
      emit(await runCompact(await context(cmd), id, o), humanCompact);
    });

  program
    .command('usage')
    .description('storage used per database and target: live backup copies and their bytes, from the catalog')
    .argument('[database-id]', 'only this database')
    .action(async (id: string | undefined, _o, cmd: Command) => {
      const { runUsage, humanUsage } = await import('./commands/usage.js');
      emit(await runUsage(await context(cmd), id), humanUsage);
    });

  program
    .command('demo')
    .alias('run-demo')
    .description('generate the demo finance database if missing, back it up and verify the backup')
    .option('--size-mib <n>', 'size of the generated demo database', '16')
    .option('--database <id>', 'database to back up (default: demo, else the first configured)')
    .action(async (o, cmd: Command) => {
      const { runDemo, humanDemo } = await import('./commands/demo.js');
      emit(await runDemo(await context(cmd), o), humanDemo);
    });

  remoteOptions(
    program
      .command('trigger')
      .description('ask the running API to back up a database now (enqueue a job)')
      .argument('<database-id>')
      .option('--at <iso-time>', 'run at this instant instead of now')
      .option('--wait', 'wait until the job finished; exit non-zero if it failed')
      .option('--timeout <seconds>', 'with --wait: give up after this long', '3600'),
  ).action(async (id: string, o, cmd: Command) => {
    const { runTrigger, humanTrigger } = await import('./commands/remote.js');
    emit(await runTrigger(await context(cmd), id, o), humanTrigger);
  });

  remoteOptions(program.command('status').description('state of a job on the running API').argument('<job-id>')).action(
    async (id: string, o, cmd: Command) => {
      const { runStatus, humanJob } = await import('./commands/remote.js');
      emit(await runStatus(await context(cmd), id, o), humanJob);
    },
  );

  try {
    await program.parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.OK;
      // `backupctl` alone prints the help and is a usage error.
      if (err.code === 'commander.help') return ExitCode.USAGE;
      out.error(new UsageError(err.message.replace(/^error: /, '')));
      return ExitCode.USAGE;
    }
    ctx?.progress.done();
    return out.error(err);
  } finally {
    await ctx?.close().catch(() => undefined);
  }
}
