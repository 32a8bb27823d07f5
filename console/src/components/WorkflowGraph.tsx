// A workflow ticket kind drawn as a graph: nodes in columns by distance from the start node, each
// outcome an arrow (to a node or a terminal, $resolved / $rejected); the current node highlighted.
import { useI18n } from "../i18n";
import { useLabels } from "../lib/labels";

export interface WfNode {
  name: string;
  role: string;
  title_zh?: string;
  title_en?: string;
  actions?: string[];
  outcomes?: Record<string, string>;
}
export interface WfTicket {
  kind: string;
  title_zh?: string;
  depends_on?: string[];
  start_node: string;
  nodes: WfNode[];
}
export interface WfDefinition {
  id: string;
  version: number;
  business_type: string;
  title_zh?: string;
  tickets: WfTicket[];
}

export interface LaidNode {
  id: string;
  depth: number;
  row: number;
  terminal: boolean;
  role: string | null;
}
export interface LaidEdge {
  from: string;
  to: string;
  label: string;
}

/** Columns by breadth-first distance from the start node; terminals in the last column. */
export function layoutTicket(t: WfTicket): { nodes: LaidNode[]; edges: LaidEdge[]; depth: number } {
  const byName = new Map(t.nodes.map((n) => [n.name, n]));
  const depth = new Map<string, number>([[t.start_node, 0]]);
  const queue = [t.start_node];
  const edges: LaidEdge[] = [];
  const terminals = new Set<string>();
  while (queue.length) {
    const name = queue.shift() as string;
    const n = byName.get(name);
    for (const [label, to] of Object.entries(n?.outcomes ?? {})) {
      edges.push({ from: name, to, label });
      if (to.startsWith("$")) {
        terminals.add(to);
        continue;
      }
      if (!depth.has(to)) {
        depth.set(to, (depth.get(name) ?? 0) + 1);
        queue.push(to);
      }
    }
  }
  for (const n of t.nodes) if (!depth.has(n.name)) depth.set(n.name, 0); // unreachable: still shown
  const maxDepth = Math.max(0, ...depth.values()) + 1;
  const rows = new Map<number, number>();
  const nodes: LaidNode[] = [];
  for (const n of t.nodes) {
    const d = depth.get(n.name) ?? 0;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    nodes.push({ id: n.name, depth: d, row: r, terminal: false, role: n.role });
  }
  [...terminals].sort().forEach((id, i) => nodes.push({ id, depth: maxDepth, row: i, terminal: true, role: null }));
  return { nodes, edges, depth: maxDepth };
}

const W = 170;
const H = 46;
const GX = 60;
const GY = 26;

export function WorkflowGraph({ ticket, current, visited = [] }: {
  ticket: WfTicket; current?: string | null; visited?: string[];
}) {
  const { t, lang } = useI18n();
  const labels = useLabels();
  const { nodes, edges, depth } = layoutTicket(ticket);
  const pos = new Map(nodes.map((n) => [n.id, { x: 10 + n.depth * (W + GX), y: 10 + n.row * (H + GY) }]));
  const rows = Math.max(1, ...nodes.map((n) => n.row + 1));
  const width = 20 + (depth + 1) * (W + GX);
  const height = 20 + rows * (H + GY);
  const title = (id: string) => {
    if (id === "$resolved") return t("outcome.$resolved");
    if (id === "$rejected") return t("outcome.$rejected");
    const n = ticket.nodes.find((x) => x.name === id);
    const own = lang === "zh-CN" ? n?.title_zh : n?.title_en;
    return own ?? labels.node(id);
  };
  return (
    <div className="graph-wrap">
      <svg width={width} height={height} role="img" aria-label={t("ticket.graph")} className="wf-graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#8c8c8c" />
          </marker>
        </defs>
        {edges.map((e, i) => {
          const a = pos.get(e.from);
          const b = pos.get(e.to);
          if (!a || !b) return null;
          const back = b.x <= a.x;
          const x1 = a.x + W;
          const y1 = a.y + H / 2;
          const x2 = back ? b.x + W / 2 : b.x;
          const y2 = back ? b.y + H : b.y + H / 2;
          const d = back
            ? `M ${a.x + W / 2} ${a.y + H} C ${a.x + W / 2} ${a.y + H + 40}, ${x2} ${y2 + 40}, ${x2} ${y2}`
            : `M ${x1} ${y1} C ${x1 + GX / 2} ${y1}, ${x2 - GX / 2} ${y2}, ${x2} ${y2}`;
          const mx = back ? (a.x + b.x + W) / 2 : (x1 + x2) / 2;
          const my = back ? Math.max(a.y, b.y) + H + 30 : (y1 + y2) / 2 - 4;
          return (
            <g key={i} className="wf-edge">
              <path d={d} fill="none" stroke="#8c8c8c" markerEnd="url(#arrow)" />
              <text x={mx} y={my} textAnchor="middle" className="wf-edge-label">{labels.outcome(e.label)}</text>
            </g>
          );
        })}
        {nodes.map((n) => {
          const p = pos.get(n.id) as { x: number; y: number };
          const cls = ["wf-node", n.terminal ? "terminal" : "", n.id === current ? "current" : "",
            visited.includes(n.id) ? "visited" : ""].join(" ");
          return (
            <g key={n.id} className={cls} data-node={n.id} aria-current={n.id === current ? "step" : undefined}>
              <rect x={p.x} y={p.y} width={W} height={H} rx={n.terminal ? 23 : 6} />
              <text x={p.x + W / 2} y={p.y + 19} textAnchor="middle" className="wf-title">{title(n.id).slice(0, 16)}</text>
              {n.role && <text x={p.x + W / 2} y={p.y + 36} textAnchor="middle" className="wf-role">{labels.role(n.role)}</text>}
              <title>{`${title(n.id)} (${n.id})`}</title>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** Without the definition (a role that may not read workflows): the nodes a ticket visited. */
export function ticketFromVisits(kind: string, visits: { node: string; role: string; outcome: string | null; next_node: string | null }[]): WfTicket {
  const nodes = new Map<string, WfNode>();
  for (const v of visits) {
    const n = nodes.get(v.node) ?? { name: v.node, role: v.role, outcomes: {} };
    if (v.outcome && v.next_node) (n.outcomes as Record<string, string>)[v.outcome] = v.next_node;
    nodes.set(v.node, n);
  }
  return { kind, start_node: visits[0]?.node ?? "", nodes: [...nodes.values()] };
}
