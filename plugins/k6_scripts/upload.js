// The platform's upload path: POST a small clip, expect 202.
// Env: BASE_URL, API_KEY, CLIP (a file path), VUS, DURATION or RATE, SUMMARY.
import http from "k6/http";
import { check } from "k6";

const clip = open(__ENV.CLIP, "b");
const rate = Number(__ENV.RATE || 0);
export const options = {
  summaryTrendStats: ["avg", "med", "p(90)", "p(95)", "p(99)", "max"],
  scenarios: rate > 0
    ? { upload: { executor: "constant-arrival-rate", rate, timeUnit: "1s", duration: __ENV.DURATION || "10s",
                  preAllocatedVUs: Number(__ENV.VUS || 5), maxVUs: Number(__ENV.VUS || 5) * 4 } }
    : { upload: { executor: "constant-vus", vus: Number(__ENV.VUS || 5), duration: __ENV.DURATION || "10s" } },
  thresholds: JSON.parse(__ENV.THRESHOLDS || "{}"),
};

export default function () {
  const body = { file: http.file(clip, "k6.mp4", "video/mp4"), title: "k6 upload" };
  const res = http.post(`${__ENV.BASE_URL}/v1/videos`, body,
                        { headers: { Authorization: `Bearer ${__ENV.API_KEY}` } });
  check(res, { "upload is 202": (r) => r.status === 202 });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
