import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiKeyPrompt } from "../layout/ApiKeyPrompt";
import { CampaignListPage } from "../pages/CampaignListPage";
import { apiError, json, mockFetch } from "../test/fetchMock";
import { campaignSummary, page } from "../test/factories";
import { renderRoute } from "../test/render";
import { ApiError, buildUrl, request } from "./client";

describe("api client", () => {
  it("builds query strings without empty values", () => {
    expect(buildUrl("/campaigns", { page: 2, channel: undefined, status: "", cursor: null })).toBe(
      "/campaigns?page=2",
    );
  });

  it("turns the error envelope into an ApiError", async () => {
    mockFetch({
      "POST /campaigns": () =>
        apiError(422, "INVALID_TEMPLATE", "Bad template", [{ field: "base_template", message: "Unknown {x}" }]),
    });
    const error = await request("POST", "/campaigns", { body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: "INVALID_TEMPLATE",
      message: "Bad template",
      details: [{ field: "base_template", message: "Unknown {x}" }],
    });
  });

  it("copes with non-JSON errors and FastAPI's default detail shape", async () => {
    mockFetch({
      "GET /a": () => new Response("<html>Internal error</html>", { status: 500 }),
      "GET /c": () => new Response("", { status: 502 }),
      "GET /b": () => json({ detail: [{ loc: ["body", "name"], msg: "Field required" }] }, 422),
    });
    await expect(request("GET", "/a")).rejects.toMatchObject({ status: 500, code: "HTTP_500" });
    // A dev proxy answers 502 when the API is down.
    const down = await request("GET", "/c").catch((e: unknown) => e);
    expect(down).toMatchObject({ status: 502, isUnreachable: true });
    await expect(request("GET", "/b")).rejects.toMatchObject({
      details: [{ field: "name", message: "Field required" }],
    });
  });

  it("asks for an API key on 401 and retries with a Bearer token", async () => {
    const api = mockFetch({
      "GET /campaigns": ({ headers }) =>
        headers.get("Authorization") === "Bearer s3cret"
          ? json(page([campaignSummary({ name: "Secret campaign" })]))
          : apiError(401, "UNAUTHORIZED", "API key required"),
    });
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
    expect(window.localStorage.getItem("campaign-dispatch.api-key")).toBe("s3cret");
    await waitFor(() => expect(screen.queryByText("This API needs a key")).not.toBeInTheDocument());
    expect(api.to("GET", "/campaigns").at(-1)!.headers.get("Authorization")).toBe("Bearer s3cret");
  });
});
