// The typed client: fetch + bearer token + X-Correlation-ID; problem+json → ApiError with field errors.
// Paths, parameters and bodies are checked against the types generated from the OpenAPI snapshots.
import { config, type ServiceName } from "../config";
import { currentSession, setSession } from "../auth/session";
import type { paths as CrmPaths } from "./generated/crm";
import type { paths as EomsPaths } from "./generated/eoms";
import type { paths as SlaPaths } from "./generated/sla";
import type { paths as NotifyPaths } from "./generated/notify";
import type { paths as StatsPaths } from "./generated/stats";

export interface ServicePaths {
  crm: CrmPaths;
  eoms: EomsPaths;
  sla: SlaPaths;
  notify: NotifyPaths;
  stats: StatsPaths;
}

type Method = "get" | "post" | "put" | "patch" | "delete";
type OpOf<P, K extends keyof P, M extends Method> = P[K] extends Record<M, infer O> ? O : never;
export type PathsFor<P, M extends Method> = {
  [K in keyof P]-?: [OpOf<P, K, M>] extends [never] ? never : K;
}[keyof P] & string;
type ParamsOf<O> = O extends { parameters: infer X } ? X : never;
type QueryOf<O> = ParamsOf<O> extends { query?: infer Q } ? Q : never;
type PathParamsOf<O> = ParamsOf<O> extends { path: infer X } ? X : never;
type BodyOf<O> = O extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type OkOf<O> = O extends { responses: infer R }
  ? 200 extends keyof R ? R[200] : 201 extends keyof R ? R[201] : never
  : never;
type JsonOf<R> = R extends { content: { "application/json": infer J } } ? J : unknown;

export interface RequestOptions<O> {
  path?: PathParamsOf<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}
export type Result<O> = JsonOf<OkOf<O>>;
/** The JSON a GET of `path` on `service` answers (named by path, not by schema component name). */
export type GetResult<S extends ServiceName, P extends PathsFor<ServicePaths[S], "get">> = Result<OpOf<ServicePaths[S], P, "get">>;
/** The JSON body a POST to `path` takes. */
export type PostBody<S extends ServiceName, P extends PathsFor<ServicePaths[S], "post">> = BodyOf<OpOf<ServicePaths[S], P, "post">>;

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  readonly correlationId: string;

  constructor(status: number, problem: Problem | null, correlationId: string, message?: string) {
    super(message ?? problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.correlationId = correlationId;
  }

  /** field path → messages (a body path like `items.0.attributes.bandwidth_mbps`, a query parameter…) */
  get fieldErrors(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const e of this.problem?.errors ?? []) {
      if (e && typeof e.field === "string") (out[e.field] ??= []).push(String(e.message ?? ""));
    }
    return out;
  }
}

export function isApiError(e: unknown, status?: number): e is ApiError {
  return e instanceof ApiError && (status === undefined || e.status === status);
}

export function newCorrelationId(): string {
  return `console-${crypto.randomUUID()}`;
}

function interpolate(path: string, params: Record<string, unknown> | undefined): string {
  return path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(String(params?.[k] ?? "")));
}

export function buildQuery(query: Record<string, unknown> | undefined): string {
  if (!query) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function serviceUrl(service: ServiceName, path: string): string {
  return `${config().services[service]}${path}`;
}

export interface RawRequest {
  method: string;
  headers?: Record<string, string>;
  body?: BodyInit | null;
  signal?: AbortSignal;
  /** answer the raw Response instead of parsed JSON */
  raw?: boolean;
}

/** Low-level request: auth, correlation id, problem+json. */
export async function rawRequest(service: ServiceName, pathAndQuery: string, init: RawRequest): Promise<unknown> {
  const correlationId = init.headers?.["X-Correlation-ID"] ?? newCorrelationId();
  const headers: Record<string, string> = { Accept: "application/json", ...init.headers, "X-Correlation-ID": correlationId };
  const session = currentSession();
  if (session && !init.headers?.Authorization) headers.Authorization = `Bearer ${session.token}`;
  let res: Response;
  try {
    res = await fetch(serviceUrl(service, pathAndQuery), {
      method: init.method, headers, body: init.body ?? null, signal: init.signal ?? null,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, null, correlationId, `${service}: ${String(e)}`);
  }
  if (!res.ok) {
    let problem: Problem | null = null;
    try {
      const text = await res.text();
      problem = text ? (JSON.parse(text) as Problem) : null;
    } catch {
      problem = null;
    }
    if (res.status === 401 && session && !init.headers?.Authorization) setSession(null);
    throw new ApiError(res.status, problem, res.headers.get("X-Correlation-ID") ?? correlationId);
  }
  if (init.raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") ?? "";
  return type.includes("json") ? res.json() : res.text();
}

async function call<S extends ServiceName, O>(
  service: S, method: Method, path: string, opts: RequestOptions<O> = {},
): Promise<Result<O>> {
  const url = interpolate(path, opts.path as Record<string, unknown> | undefined)
    + buildQuery(opts.query as Record<string, unknown> | undefined);
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | null = null;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  return (await rawRequest(service, url, { method: method.toUpperCase(), headers, body, signal: opts.signal })) as Result<O>;
}

export const api = {
  get<S extends ServiceName, P extends PathsFor<ServicePaths[S], "get">>(
    service: S, path: P, opts?: RequestOptions<OpOf<ServicePaths[S], P, "get">>,
  ): Promise<Result<OpOf<ServicePaths[S], P, "get">>> {
    return call(service, "get", path, opts);
  },
  post<S extends ServiceName, P extends PathsFor<ServicePaths[S], "post">>(
    service: S, path: P, opts?: RequestOptions<OpOf<ServicePaths[S], P, "post">>,
  ): Promise<Result<OpOf<ServicePaths[S], P, "post">>> {
    return call(service, "post", path, opts);
  },
  put<S extends ServiceName, P extends PathsFor<ServicePaths[S], "put">>(
    service: S, path: P, opts?: RequestOptions<OpOf<ServicePaths[S], P, "put">>,
  ): Promise<Result<OpOf<ServicePaths[S], P, "put">>> {
    return call(service, "put", path, opts);
  },
};
