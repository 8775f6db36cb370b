import { spawn } from 'node:child_process';

export class ToolError extends Error {}

/**
 * Runs a pipeline of local tools (espeak-ng | sox, sox | pocketsphinx), `input` on the first one's
 * stdin, and resolves the last one's stdout. No shell: arguments are passed as they are. Rejects
 * on a non-zero exit, on `timeoutMs` (the processes are killed by their PID) and on `signal`.
 */
export function runPipeline(stages: { cmd: string; args: string[] }[], input: Buffer | string | null, o: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const procs = stages.map((s) => spawn(s.cmd, s.args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const errs = procs.map(() => '');
    let done = false;
    const finish = (e: Error | null, out?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (e) for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      if (e) reject(e);
      else resolve(out!);
    };
    const timer = setTimeout(() => finish(new ToolError(`${stages.map((s) => s.cmd).join(' | ')} took longer than ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
    const onAbort = () => finish(new ToolError('aborted'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    procs.forEach((p, i) => {
      p.on('error', (e) => finish(new ToolError(`${stages[i]!.cmd}: ${e.message}`)));
      p.stderr.on('data', (b: Buffer) => (errs[i] = (errs[i]! + b.toString('utf8')).slice(-2000)));
      p.stdin.on('error', () => undefined);
      if (i > 0) procs[i - 1]!.stdout.pipe(p.stdin);
    });
    const chunks: Buffer[] = [];
    procs[procs.length - 1]!.stdout.on('data', (b: Buffer) => chunks.push(b));
    let exited = 0;
    procs.forEach((p, i) =>
      p.on('close', (code) => {
        if (code !== 0) return finish(new ToolError(`${stages[i]!.cmd} exited with ${code}: ${errs[i]!.trim().slice(-500)}`));
        if (++exited === procs.length) finish(null, Buffer.concat(chunks));
      }),
    );
    if (input !== null) procs[0]!.stdin.end(input);
    else procs[0]!.stdin.end();
  });
}
