// Prometheus text exposition → samples; sums per metric name (optionally filtered by a label).
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[4]) });
  }
  return out;
}

export function sumOf(samples: Sample[], name: string): number | null {
  const xs = samples.filter((s) => s.name === name && Number.isFinite(s.value));
  return xs.length ? xs.reduce((a, s) => a + s.value, 0) : null;
}
