import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { currentSession, onSessionChange, type Session } from "../auth/session";

export function useSession(): Session | null {
  return useSyncExternalStore(
    (cb) => onSessionChange(() => cb()),
    currentSession,
    currentSession,
  );
}

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Run `load` when `deps` change (and on reload()); aborted when superseded or unmounted. While
 * a new load runs, the previous data stays (loading is true). */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [tick, setTick] = useState(0);
  // the request this state is for: the deps (plain values) and the reload tick
  const request = JSON.stringify([deps, tick]);
  const [state, setState] = useState<{ request: string | null; data: T | undefined; error: unknown }>({
    request: null, data: undefined, error: undefined,
  });
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });
  useEffect(() => {
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ request, data, error: undefined }),
      (error: unknown) => !controller.signal.aborted && setState({ request, data: undefined, error }),
    );
    return () => controller.abort();
  }, [request]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const loading = state.request !== request;
  return { data: state.data, error: loading ? undefined : state.error, loading, reload };
}

/** The current time, updated every `ms` (the countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
