import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import type { CampaignDetail } from "../../api/models";
import { apiError } from "../../test/api";
import { mockDetailApi, renderDetail } from "../../test/detail";
import { customer, page } from "../../test/factories";

function sendApi(detail: Partial<CampaignDetail> = {}, answer?: () => Response) {
  return mockDetailApi(
    { status: "draft", ...detail },
    {
      handlers: [
        http.get("/customers", () => HttpResponse.json(page([customer({ id: 7 })]))),
        http.post(
          "/campaigns/1/send",
          answer ??
            (() =>
              HttpResponse.json(
                { campaign_id: 1, messages_queued: 11, status: "sending", skipped_opted_out: 2 },
                { status: 202 },
              )),
        ),
      ],
    },
  );
}

async function openSegment(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByRole("button", { name: "Send…" }));
  const dialog = screen.getByRole("dialog", { name: "Send “Spring sale”" });
  await user.click(within(dialog).getByLabelText("A segment"));
  return dialog;
}

describe("Send dialog: segments", () => {
  it("sends to every customer as segment {} (never customer_ids) and shows queued and skipped", async () => {
    const api = sendApi();
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openSegment(user);
    expect(within(dialog).getByLabelText("Every customer")).toBeChecked();
    await user.click(within(dialog).getByRole("button", { name: "Send to every customer" }));

    expect(await within(screen.getByRole("dialog")).findByRole("status")).toHaveTextContent(
      "11 messages queued for “Spring sale”.",
    );
    expect(screen.getByRole("dialog")).toHaveTextContent("2 opted-out customers left out.");
    const [send] = api.to("POST", "/campaigns/1/send");
    expect(send!.body).toEqual({ segment: {} });
    expect(send!.body).not.toHaveProperty("customer_ids");
    expect(send!.headers.get("Idempotency-Key")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends a location and/or a preferred product, trimmed; nothing to match can't be sent", async () => {
    const api = sendApi();
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openSegment(user);
    await user.click(within(dialog).getByLabelText("Customers matching…"));
    expect(within(dialog).getByRole("button", { name: "Send to the segment" })).toBeDisabled();
    expect(dialog).toHaveTextContent("Fill in a location, a preferred product, or both.");

    await user.type(within(dialog).getByLabelText("Location"), " london ");
    await user.type(within(dialog).getByLabelText("Preferred product"), "Shoes");
    await user.click(within(dialog).getByRole("button", { name: "Send to customers in london who prefer Shoes" }));
    await screen.findByText(/messages queued/);
    expect(api.to("POST", "/campaigns/1/send")[0]!.body).toEqual({
      segment: { location: "london", preferred_product: "Shoes" },
    });
  });

  it("still sends to chosen customers by customer_ids", async () => {
    const api = sendApi();
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Send…" }));
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByLabelText("Chosen customers")).toBeChecked();
    await user.click(await within(dialog).findByRole("checkbox", { name: /Ada/ }));
    await user.click(within(dialog).getByRole("button", { name: "Send to 1 customer" }));
    await screen.findByText(/messages queued/);
    expect(api.to("POST", "/campaigns/1/send")[0]!.body).toEqual({ customer_ids: [7] });
  });

  it("offers a saved segment as the saved audience (an empty body)", async () => {
    const api = sendApi({ segment: { location: "Paris", preferred_product: null } });
    const user = userEvent.setup();
    renderDetail();
    await user.click(await screen.findByRole("button", { name: "Send…" }));
    expect(screen.getByLabelText("Saved segment (customers in Paris)")).toBeChecked();
    await user.click(screen.getByRole("button", { name: "Send to customers in Paris" }));
    await screen.findByText(/messages queued/);
    expect(api.to("POST", "/campaigns/1/send")[0]!.body).toEqual({});
  });

  it("lists a 422's details", async () => {
    sendApi({}, () =>
      apiError(422, "VALIDATION_ERROR", "Invalid request", [
        { field: "body.segment.location", message: "String should have at most 200 characters" },
      ]),
    );
    const user = userEvent.setup();
    renderDetail();
    const dialog = await openSegment(user);
    await user.click(within(dialog).getByRole("button", { name: "Send to every customer" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("String should have at most 200 characters");
  });
});
