// A lazily loaded screen whose code can be asked for before the first render (main.tsx: the page
// opened). Once its module has arrived it renders directly, without a Suspense fallback and without
// React's wait before revealing suspended content (about 300 ms), which a lazy() alone costs even
// when the chunk is already there.
import { createElement, lazy, type ComponentType } from "react";

export interface Preloadable<P extends object> {
  Component: ComponentType<P>;
  /** fetch (once) and evaluate the module; resolves when it can render without suspending */
  load: () => Promise<void>;
}

export function preloadable<P extends object>(factory: () => Promise<{ default: ComponentType<P> }>): Preloadable<P> {
  let loaded: ComponentType<P> | undefined;
  let pending: Promise<{ default: ComponentType<P> }> | undefined;
  const get = () => (pending ??= factory().then((m) => {
    loaded = m.default;
    return m;
  }));
  const Lazy = lazy(get);
  function Component(props: P) {
    return createElement(loaded ?? Lazy, props);
  }
  return { Component, load: () => get().then(() => undefined) };
}
