import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { LangSwitch } from "../components/Layout";
import { renderApp } from "../test/helpers";
import { en } from "./en";
import { I18nProvider, storedLang, translate, useI18n } from "./index";
import { zhCN } from "./zh-CN";
import { render } from "@testing-library/react";

function Title() {
  const { t } = useI18n();
  return <h1>{t("nav.board")}</h1>;
}

describe("i18n", () => {
  it("has every key in both languages, none empty, same placeholders", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const [k, v] of Object.entries(zhCN)) {
      const other = en[k as keyof typeof en];
      expect(v.length, k).toBeGreaterThan(0);
      expect(other.length, k).toBeGreaterThan(0);
      const holes = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(holes(other), k).toEqual(holes(v));
    }
  });

  it("defaults to zh-CN, switches to English and remembers it", () => {
    expect(storedLang()).toBe("zh-CN");
    render(<I18nProvider><Title /><LangSwitch /></I18nProvider>);
    expect(screen.getByRole("heading").textContent).toBe("SLA 看板");
    expect(document.documentElement.lang).toBe("zh-CN");
    fireEvent.change(screen.getByRole("combobox"), { target: { value: "en" } });
    expect(screen.getByRole("heading").textContent).toBe("SLA board");
    expect(document.documentElement.lang).toBe("en");
    expect(localStorage.getItem("console.lang")).toBe("en");
    expect(storedLang()).toBe("en");
  });

  it("fills placeholders", () => {
    expect(translate("en", "board.newBreaches", { n: 3 })).toBe("3 new breach(es)");
    expect(translate("zh-CN", "board.newBreaches", { n: 3 })).toBe("新超时 3 条");
  });

  it("renders through the app helper in the language asked", () => {
    renderApp(<Title />, { lang: "en" });
    expect(screen.getByRole("heading").textContent).toBe("SLA board");
  });
});
