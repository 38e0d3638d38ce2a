// Times a bounded in-process loop by this process's CPU time and by the wall clock. On a shared 2-core
// machine the wall clock includes waiting for other processes; CPU time is the cost of the work itself.

export interface Timed {
  count: number;
  cpuUs: number;
  wallMs: number;
  /** CPU microseconds per operation. */
  cpuUsPerOp: number;
  /** Operations per CPU second: what one core does when it does nothing else. */
  perCpuSecond: number;
  /** Operations per wall-clock second, as observed. */
  perWallSecond: number;
}

export async function timeLoop(count: number, op: (i: number) => unknown): Promise<Timed> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const r = op(i);
    if (r instanceof Promise) await r;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  return { count, cpuUs, wallMs, cpuUsPerOp: cpuUs / count, perCpuSecond: (count * 1e6) / cpuUs, perWallSecond: (count * 1000) / wallMs };
}
