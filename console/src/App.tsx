import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { canOpen, homeFor } from "./auth/nav";
import { Layout } from "./components/Layout";
import { Loading } from "./components/common";
import { useI18n } from "./i18n";
import { useSession } from "./lib/hooks";
import { LabelsProvider } from "./lib/labels";
import { preloadable } from "./lib/preload";
import { ProductsProvider } from "./lib/products";
import { AuthCallback, Login } from "./pages/Login";

/** The board (supervisors' home, issue 10's first-render target): main.tsx loads its code before the
 * first render when the page opened is the board. */
export const boardPage = preloadable(() => import("./pages/Board"));
const Board = boardPage.Component;
const Reports = lazy(() => import("./pages/Reports"));
const Stats = lazy(() => import("./pages/Stats"));
const TicketPage = lazy(() => import("./pages/Ticket"));
const Queue = lazy(() => import("./pages/Queue"));
const Dispatch = lazy(() => import("./pages/Dispatch"));
const Mine = lazy(() => import("./pages/Mine"));
const Workbench = lazy(() => import("./pages/Workbench"));
const OrderPage = lazy(() => import("./pages/OrderPage"));
const ComplaintPage = lazy(() => import("./pages/ComplaintPage"));
const AdminPolicies = lazy(() => import("./pages/admin/Policies"));
const AdminWorkflows = lazy(() => import("./pages/admin/Workflows"));
const AdminDirectory = lazy(() => import("./pages/admin/Directory"));
const AdminStatus = lazy(() => import("./pages/admin/Status"));

function Guard({ children }: { children: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  const { t } = useI18n();
  if (!session) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  if (!canOpen(location.pathname, session.roles)) return <p className="error" role="alert">{t("app.forbidden")}</p>;
  return <>{children}</>;
}

function NotFound() {
  const { t } = useI18n();
  return <p>{t("app.notFound")}</p>;
}

function Home() {
  const session = useSession();
  return <Navigate to={session ? homeFor(session.roles) : "/login"} replace />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route path="/auth/callback" element={<AuthCallback />} />
      <Route
        element={
          <Guard>
            <ProductsProvider>
              <LabelsProvider>
                <Layout />
              </LabelsProvider>
            </ProductsProvider>
          </Guard>
        }
      >
        <Route index element={<Home />} />
        <Route path="board" element={<Lazy><Board /></Lazy>} />
        <Route path="reports" element={<Lazy><Reports /></Lazy>} />
        <Route path="stats" element={<Lazy><Stats /></Lazy>} />
        <Route path="tickets/:id" element={<Lazy><TicketPage /></Lazy>} />
        <Route path="queue" element={<Lazy><Queue /></Lazy>} />
        <Route path="dispatch" element={<Lazy><Dispatch /></Lazy>} />
        <Route path="mine" element={<Lazy><Mine /></Lazy>} />
        <Route path="workbench" element={<Lazy><Workbench /></Lazy>} />
        <Route path="orders/:id" element={<Lazy><OrderPage /></Lazy>} />
        <Route path="complaints/:id" element={<Lazy><ComplaintPage /></Lazy>} />
        <Route path="admin" element={<Navigate to="/admin/policies" replace />} />
        <Route path="admin/policies" element={<Lazy><AdminPolicies /></Lazy>} />
        <Route path="admin/workflows" element={<Lazy><AdminWorkflows /></Lazy>} />
        <Route path="admin/directory" element={<Lazy><AdminDirectory /></Lazy>} />
        <Route path="admin/status" element={<Lazy><AdminStatus /></Lazy>} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}
