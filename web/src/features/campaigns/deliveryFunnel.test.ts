import { describe, expect, it } from "vitest";
import { deliveryFunnel } from "./deliveryFunnel";

const steps = (sent: number, delivered: number, undelivered: number) =>
  Object.fromEntries(
    deliveryFunnel({ sent, delivered, undelivered }).steps.map((s) => [s.key, [s.count, s.percent]]),
  );

describe("deliveryFunnel", () => {
  it("splits sent into delivered, undelivered and awaiting receipt, as shares of sent", () => {
    expect(deliveryFunnel({ sent: 10, delivered: 6, undelivered: 1 })).toEqual({
      sent: 10,
      steps: [
        { key: "delivered", label: "Delivered", count: 6, percent: 60 },
        { key: "undelivered", label: "Undelivered", count: 1, percent: 10 },
        { key: "awaiting", label: "Awaiting receipt", count: 3, percent: 30 },
      ],
    });
  });

  it("rounds the percentages", () => {
    expect(steps(3, 1, 0)).toEqual({ delivered: [1, 33], undelivered: [0, 0], awaiting: [2, 67] });
    expect(steps(8, 1, 0)).toEqual({ delivered: [1, 13], undelivered: [0, 0], awaiting: [7, 88] });
  });

  it("has nothing awaiting once every sent message has a receipt", () => {
    expect(steps(5, 4, 1)).toEqual({ delivered: [4, 80], undelivered: [1, 20], awaiting: [0, 0] });
  });

  it("never counts a negative number awaiting, even when receipts run ahead of sent", () => {
    expect(steps(4, 4, 2)).toEqual({ delivered: [4, 100], undelivered: [2, 50], awaiting: [0, 0] });
    expect(steps(0, 1, 0)).toEqual({ delivered: [1, null], undelivered: [0, null], awaiting: [0, null] });
  });

  it("has no percentages while nothing is sent", () => {
    expect(steps(0, 0, 0)).toEqual({ delivered: [0, null], undelivered: [0, null], awaiting: [0, null] });
  });
});
