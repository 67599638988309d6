import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { fieldErrorsFrom } from "./fieldErrors";

const error = (...fields: string[]) =>
  new ApiError(
    422,
    "VALIDATION_ERROR",
    "Invalid request",
    fields.map((field) => ({ field, message: `bad ${field}` })),
  );

describe("fieldErrorsFrom", () => {
  const known = ["name", "customer_ids", "send_window", "whatsapp_template", "whatsapp_template.name"];

  it("maps plain and dotted locations", () => {
    expect(fieldErrorsFrom(error("body.name", "customer_ids.2"), known)).toEqual({
      name: "bad body.name",
      customer_ids: "bad customer_ids.2",
    });
  });

  it("prefers the most specific dotted field: a template's name is not the campaign's", () => {
    expect(fieldErrorsFrom(error("body.whatsapp_template.name"), known)).toEqual({
      "whatsapp_template.name": "bad body.whatsapp_template.name",
    });
  });

  it("falls back to the enclosing field when its part is not known", () => {
    expect(fieldErrorsFrom(error("send_window.start", "whatsapp_template.language"), known)).toEqual({
      send_window: "bad send_window.start",
      whatsapp_template: "bad whatsapp_template.language",
    });
  });

  it("ignores unknown fields, details without a field, and other errors", () => {
    expect(fieldErrorsFrom(error("body.nope"), known)).toEqual({});
    expect(fieldErrorsFrom(new ApiError(422, "VALIDATION_ERROR", "x", [{ field: null, message: "m" }]), known)).toEqual({});
    expect(fieldErrorsFrom(new Error("boom"), known)).toEqual({});
  });
});
