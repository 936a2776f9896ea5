import { runLoad } from './runner.js';
import { LOAD_USAGE, parseLoadArgs, type LoadOptions } from './options.js';
import { formatProgress, formatResult } from './report.js';

/**
 * `skein load …`: parses the arguments, runs the load, prints progress on
 * stderr and the result on stdout. Returns the exit code: 0 when done, 1 when
 * the target could not be reached or stalled, 2 for a bad option.
 */
export async function loadMain(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    out.write(LOAD_USAGE);
    return 0;
  }
  let options: LoadOptions;
  try {
    options = parseLoadArgs(args);
  } catch (error) {
    err.write(`skein: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const result = await runLoad(
      options,
      options.quiet ? undefined : (p) => err.write(`${formatProgress(p)}\n`),
      options.quiet
        ? {}
        : {
            warming: () => err.write(`skein load: ${options.connections} connections ready, warming up for ${options.warmup} s\n`),
            started: () => err.write(options.warmup > 0 ? 'skein load: warmed up, measuring\n' : `skein load: ${options.connections} connections ready, measuring\n`),
            finished: () => err.write('skein load: finished\n'),
          },
    );
    out.write(options.json ? `${JSON.stringify(result)}\n` : `${formatResult(result)}\n`);
    return result.stalled ? 1 : 0;
  } catch (error) {
    err.write(`skein load: ${(error as Error).message}\n`);
    return 1;
  }
}
