import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { MemoryRouter, Route, Routes } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { AppLayout } from "../layout/AppLayout";
import { CampaignListPage } from "../pages/CampaignListPage";
import { apiError, mockApi } from "../test/api";
import { campaignSummary, page } from "../test/factories";
import { STORAGE_KEY, forgetApiKey, getApiKey, rejectApiKey, setApiKey, startAuth } from "./auth";

const ready = http.get("/ready", () => HttpResponse.json({ status: "ok", checks: {} }));

/** GET /campaigns answers "Secret campaign" to `key` and 401 to anything else. */
function campaignsFor(key: string) {
  return http.get("/campaigns", ({ request }) =>
    request.headers.get("Authorization") === `Bearer ${key}`
      ? HttpResponse.json(page([campaignSummary({ name: "Secret campaign" })]))
      : apiError(401, "UNAUTHORIZED", "Invalid API key"),
  );
}

function renderDashboard() {
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, staleTime: 0 }, mutations: { retry: false } },
  });
  render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={["/"]}>
        <Routes>
          <Route element={<AppLayout />}>
            <Route index element={<CampaignListPage />} />
          </Route>
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return queryClient;
}

describe("the API key", () => {
  it("is kept in sessionStorage, never in localStorage", () => {
    setApiKey("s3cret");
    expect(getApiKey()).toBe("s3cret");
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBe("s3cret");
    expect(window.localStorage.getItem(STORAGE_KEY)).toBeNull();

    forgetApiKey();
    expect(getApiKey()).toBeNull();
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBeNull();
  });

  it("moves a key an earlier version left in localStorage, and deletes it there", () => {
    window.localStorage.setItem(STORAGE_KEY, "old-s3cret");
    startAuth();
    expect(window.localStorage.getItem(STORAGE_KEY)).toBeNull();
    expect(getApiKey()).toBe("old-s3cret");
  });

  it("keeps working for the page when sessionStorage refuses it", () => {
    const refuse = vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new DOMException("full", "QuotaExceededError");
    });
    try {
      setApiKey("s3cret");
      expect(getApiKey()).toBe("s3cret");
      expect(window.localStorage.getItem(STORAGE_KEY)).toBeNull();
    } finally {
      refuse.mockRestore();
    }
  });

  it("is dropped on a 401 to it, and the prompt asks again", async () => {
    setApiKey("revoked");
    const calls = mockApi(ready, campaignsFor("fresh"));
    const user = userEvent.setup();
    renderDashboard();

    expect(await screen.findByText("That API key was rejected")).toBeInTheDocument();
    expect(getApiKey()).toBeNull();
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBeNull();

    await user.type(screen.getByLabelText("API key"), "fresh");
    await user.click(screen.getByRole("button", { name: "Save key" }));
    expect(await screen.findByRole("link", { name: "Secret campaign" })).toBeInTheDocument();
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBe("fresh");
    expect(calls.to("GET", "/campaigns").at(-1)!.headers.get("Authorization")).toBe("Bearer fresh");
  });

  it("is not dropped by a late 401 to a key it has replaced", () => {
    setApiKey("new");
    rejectApiKey("old");
    expect(getApiKey()).toBe("new");
    rejectApiKey("new");
    expect(getApiKey()).toBeNull();
  });

  it("has a Forget key button that removes it and every cached answer", async () => {
    setApiKey("s3cret");
    const calls = mockApi(ready, campaignsFor("s3cret"));
    const user = userEvent.setup();
    const queryClient = renderDashboard();
    expect(await screen.findByRole("link", { name: "Secret campaign" })).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Forget key" }));

    expect(getApiKey()).toBeNull();
    expect(window.sessionStorage.getItem(STORAGE_KEY)).toBeNull();
    expect(screen.queryByRole("link", { name: "Secret campaign" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Forget key" })).not.toBeInTheDocument();
    // The page starts afresh without the key: the API's 401 brings up the prompt.
    expect(await screen.findByText("This API needs a key")).toBeInTheDocument();
    const cached = queryClient.getQueryCache().getAll();
    expect(cached.filter((query) => query.state.data !== undefined).map((q) => q.queryKey)).not.toContainEqual(
      expect.arrayContaining(["campaigns"]),
    );
    expect(
      queryClient
        .getQueryCache()
        .getAll()
        .some((query) => JSON.stringify(query.state.data ?? null).includes("Secret campaign")),
    ).toBe(false);
    expect(calls.to("GET", "/campaigns").at(-1)!.headers.get("Authorization")).toBeNull();
  });

  it("offers no Forget key button while no key is stored", async () => {
    mockApi(ready, http.get("/campaigns", () => HttpResponse.json(page([]))));
    renderDashboard();
    expect(await screen.findByText(/No campaigns/i)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Forget key" })).not.toBeInTheDocument();
    await waitFor(() => expect(screen.queryByText("This API needs a key")).not.toBeInTheDocument());
  });
});
