import { readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
const PAGE_BYTES = 4096;

export interface ProcSample {
  /** user + system CPU seconds since the process started, all threads. */
  cpuS: number;
  rssBytes: number;
}

/** Reads utime+stime and RSS of one process; undefined once it has exited. */
export function sampleProcess(pid: number): ProcSample | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuS: (utime + stime) / CLOCK_TICKS, rssBytes: rssPages * PAGE_BYTES };
}

/** Sums CPU seconds and RSS over several processes (e.g. every pod of a contender). */
export function sampleProcesses(pids: readonly number[]): ProcSample {
  let cpuS = 0;
  let rssBytes = 0;
  for (const pid of pids) {
    const sample = sampleProcess(pid);
    if (!sample) continue;
    cpuS += sample.cpuS;
    rssBytes += sample.rssBytes;
  }
  return { cpuS, rssBytes };
}

/** The busy fraction of the whole machine between two readings of /proc/stat, 0–1 per core summed. */
export function machineCpuTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** The kernel's count of connections dropped because a listen queue was full (the whole machine: /proc/net/netstat). */
export function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const header = lines.findIndex((l) => l.startsWith('TcpExt:'));
  if (header < 0) return Number.NaN;
  const names = lines[header]!.trim().split(/\s+/);
  const values = lines[header + 1]!.trim().split(/\s+/);
  return Number(values[names.indexOf('ListenOverflows')]);
}
