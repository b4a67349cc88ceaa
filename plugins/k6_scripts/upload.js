// The platform's upload path: POST a small clip, expect 202.
// Env: BASE_URL, API_KEY, CLIP (a file path), VUS, DURATION or RATE, THRESHOLDS, SUMMARY.
import http from "k6/http";
import { check } from "k6";
import { options as shared, summary } from "./options.js";

export const options = shared("upload", 5);

const clip = open(__ENV.CLIP, "b");

export default function () {
  const body = { file: http.file(clip, "k6.mp4", "video/mp4"), title: "k6 upload" };
  const res = http.post(`${__ENV.BASE_URL}/v1/videos`, body,
                        { headers: { Authorization: `Bearer ${__ENV.API_KEY}` } });
  check(res, { "upload is 202": (r) => r.status === 202 });
}

export const handleSummary = summary;
