import type { Channel } from "../api/models";
import { CHANNEL_LABELS } from "../lib/format";

export function ChannelTag({ channel }: { channel: Channel }) {
  return <span className={`channel channel--${channel}`}>{CHANNEL_LABELS[channel] ?? channel}</span>;
}
