import { NavLink, Outlet } from "react-router";
import { useAuthState } from "../api/auth";
import { ApiKeyPrompt, ForgetKeyButton } from "./ApiKeyPrompt";
import { ApiStatus } from "./ApiStatus";

export function AppLayout() {
  // "Forget key" starts a new generation: the page remounts, with nothing from before.
  const { generation } = useAuthState();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <NavLink to="/" className="brand" end>
            <span className="brand__mark" aria-hidden="true" />
            Campaign Dispatch
          </NavLink>
          <nav className="topnav" aria-label="Main">
            <NavLink to="/" end className="topnav__link">
              Campaigns
            </NavLink>
            <NavLink to="/campaigns/new" className="topnav__link">
              New campaign
            </NavLink>
            <NavLink to="/customers" className="topnav__link">
              Customers
            </NavLink>
          </nav>
          <ApiStatus />
          <ForgetKeyButton />
        </div>
      </header>
      <ApiKeyPrompt />
      <main id="main" className="page" tabIndex={-1} key={generation}>
        <Outlet />
      </main>
    </>
  );
}
