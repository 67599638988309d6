import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { ApiKeyPrompt } from "../layout/ApiKeyPrompt";
import { CampaignListPage } from "../pages/CampaignListPage";
import { apiError, mockApi } from "../test/api";
import { campaignSummary, page } from "../test/factories";
import { renderRoute } from "../test/render";
import { ApiError, api, serializeQuery, unwrap } from "./client";
import type { CampaignCreate, CampaignListParams } from "./models";

describe("api client", () => {
  it("builds query strings without empty values", async () => {
    expect(serializeQuery({ page: 2, channel: undefined, status: "", cursor: null })).toBe("page=2");

    const calls = mockApi(http.get("/campaigns", () => HttpResponse.json(page([]))));
    // An empty string is not a valid status; an unset <select> can still produce one.
    const query = { page: 2, channel: undefined, status: "", cursor: null } as unknown as CampaignListParams;
    await unwrap(api.GET("/campaigns", { params: { query } }));
    const [sent] = calls.to("GET", "/campaigns");
    expect(sent!.url.pathname + sent!.url.search).toBe("/campaigns?page=2");
  });

  it("turns the error envelope into an ApiError", async () => {
    mockApi(
      http.post("/campaigns", () =>
        apiError(422, "INVALID_TEMPLATE", "Bad template", [{ field: "base_template", message: "Unknown {x}" }]),
      ),
    );
    const error = await unwrap(api.POST("/campaigns", { body: {} as CampaignCreate })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: "INVALID_TEMPLATE",
      message: "Bad template",
      details: [{ field: "base_template", message: "Unknown {x}" }],
    });
  });

  it("copes with non-JSON errors and bodies that are not the envelope", async () => {
    mockApi(
      http.get("/campaigns", () => new HttpResponse("<html>Internal error</html>", { status: 500 })),
      http.get("/ready", () => new HttpResponse("", { status: 502 })),
      http.get("/customers", () =>
        HttpResponse.json({ detail: [{ loc: ["body", "name"], msg: "Field required" }] }, { status: 422 }),
      ),
    );
    await expect(unwrap(api.GET("/campaigns"))).rejects.toMatchObject({ status: 500, code: "HTTP_500" });
    // A dev proxy answers 502 when the API is down.
    const down = await unwrap(api.GET("/ready")).catch((e: unknown) => e);
    expect(down).toMatchObject({ status: 502, isUnreachable: true });
    // Every error of the API is the envelope; anything else is a generic failure, not parsed.
    await expect(unwrap(api.GET("/customers"))).rejects.toMatchObject({
      status: 422,
      code: "HTTP_422",
      message: "Request failed (422).",
      details: [],
    });
  });

  it("treats a network failure as unreachable", async () => {
    mockApi(http.get("/ready", () => HttpResponse.error()));
    const error = await unwrap(api.GET("/ready")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, isUnreachable: true });
  });

  it("asks for JSON", async () => {
    const calls = mockApi(http.get("/ready", () => HttpResponse.json({ status: "ok", checks: {} })));
    await unwrap(api.GET("/ready"));
    expect(calls.to("GET", "/ready")[0]!.headers.get("Accept")).toBe("application/json");
    expect(calls.to("GET", "/ready")[0]!.headers.get("Authorization")).toBeNull();
  });

  it("asks for an API key on 401 and retries with a Bearer token", async () => {
    const calls = mockApi(
      http.get("/campaigns", ({ request }) =>
        request.headers.get("Authorization") === "Bearer s3cret"
          ? HttpResponse.json(page([campaignSummary({ name: "Secret campaign" })]))
          : apiError(401, "UNAUTHORIZED", "API key required"),
      ),
    );
    const user = userEvent.setup();
    renderRoute(
      <>
        <ApiKeyPrompt />
        <CampaignListPage />
      </>,
    );

    expect(await screen.findByText("This API needs a key")).toBeInTheDocument();
    await user.type(screen.getByLabelText("API key"), "s3cret");
    await user.click(screen.getByRole("button", { name: "Save key" }));

    expect(await screen.findByRole("link", { name: "Secret campaign" })).toBeInTheDocument();
    expect(window.sessionStorage.getItem("campaign-dispatch.api-key")).toBe("s3cret");
    expect(window.localStorage.getItem("campaign-dispatch.api-key")).toBeNull();
    await waitFor(() => expect(screen.queryByText("This API needs a key")).not.toBeInTheDocument());
    expect(calls.to("GET", "/campaigns").at(-1)!.headers.get("Authorization")).toBe("Bearer s3cret");
  });
});
