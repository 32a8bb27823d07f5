// i18n: zh-CN by default, English; the choice is persisted in localStorage.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { zhCN, type MessageKey } from "./zh-CN";
import { en } from "./en";

export type Lang = "zh-CN" | "en";
export const LANGS: readonly Lang[] = ["zh-CN", "en"];
const STORAGE_KEY = "console.lang";
const DICTS: Record<Lang, Record<MessageKey, string>> = { "zh-CN": zhCN, en };

export type Vars = Record<string, string | number>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

export function format(template: string, vars?: Vars): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  return format(DICTS[lang][key] ?? zhCN[key] ?? key, vars);
}

/** A key built at run time (a role, a state, an outcome…): its translation, or the fallback. */
export function hasKey(key: string): key is MessageKey {
  return key in zhCN;
}

export function storedLang(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === "en" || v === "zh-CN" ? v : "zh-CN";
  } catch {
    return "zh-CN";
  }
}

interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: Translate;
  /** translate `${prefix}.${value}` when known, else show `fallback ?? value` */
  tv: (prefix: string, value: string | null | undefined, fallback?: string) => string;
}

const Ctx = createContext<I18n | null>(null);

export function I18nProvider({ children, initial }: { children: ReactNode; initial?: Lang }) {
  const [lang, setLangState] = useState<Lang>(initial ?? storedLang);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      /* private mode: the choice lasts for this page */
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = translate(lang, "app.title");
  }, [lang]);
  const value = useMemo<I18n>(() => {
    const t: Translate = (key, vars) => translate(lang, key, vars);
    const tv = (prefix: string, v: string | null | undefined, fallback?: string) => {
      if (v === null || v === undefined || v === "") return "—";
      const key = `${prefix}.${v}`;
      return hasKey(key) ? t(key) : (fallback ?? v);
    };
    return { lang, setLang, t, tv };
  }, [lang, setLang]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error("useI18n outside I18nProvider");
  return v;
}
