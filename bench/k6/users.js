// Many users at once, each thinking between requests: the library page, a video's status, its
// thumbnail, a ranged read of a rendition; one user in every 50 also uploads a clip, once.
// TARGETS is a JSON list of {key, videos: [{id, rendition}]}, one per tenant; users 1-50 belong to the
// first tenant, 51-100 to the second, and so on. Results go out through handleSummary.
import http from "k6/http";
import { check, sleep } from "k6";

const targets = JSON.parse(open(__ENV.TARGETS));
const clip = __ENV.CLIP ? open(__ENV.CLIP, "b") : null;
const base = __ENV.URL;

export const options = {
  discardResponseBodies: true,
  scenarios: {
    users: {
      executor: "ramping-vus",
      startVUs: 0,
      stages: [
        { duration: __ENV.RAMP || "20s", target: Number(__ENV.VUS || 1000) },
        { duration: __ENV.DURATION || "60s", target: Number(__ENV.VUS || 1000) },
      ],
      gracefulRampDown: "5s",
      gracefulStop: "10s",
    },
  },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
  // One sub-metric per request type, so the summary has each one's p95.
  thresholds: {
    "http_req_duration{name:library}": ["p(95)>=0"],
    "http_req_duration{name:status}": ["p(95)>=0"],
    "http_req_duration{name:thumbnail}": ["p(95)>=0"],
    "http_req_duration{name:range}": ["p(95)>=0"],
    "http_req_duration{name:upload}": ["p(95)>=0"],
  },
};

function think() {
  sleep(1 + Math.random()); // 1 to 2 s
}

let uploaded = false;

export default function () {
  const tenant = targets[Math.floor((__VU - 1) / 50) % targets.length];
  const auth = { Authorization: `Bearer ${tenant.key}` };
  const video = tenant.videos[Math.floor(Math.random() * tenant.videos.length)];
  const get = (path, name, extra) =>
    http.get(`${base}${path}`, { headers: Object.assign({}, auth, extra || {}), tags: { name } });

  check(get("/v1/videos?limit=20", "library"), { "library 200": (r) => r.status === 200 });
  think();
  check(get(`/v1/videos/${video.id}`, "status"), { "status 200": (r) => r.status === 200 });
  think();
  check(get(`/v1/videos/${video.id}/thumbnail`, "thumbnail"), { "thumbnail 200": (r) => r.status === 200 });
  think();
  const range = get(`/v1/videos/${video.id}/renditions/${video.rendition}`, "range", { Range: "bytes=0-262143" });
  check(range, { "range 206": (r) => r.status === 206 });
  think();
  if (clip && !uploaded && __VU % 50 === 1) {
    uploaded = true;
    const body = { file: http.file(clip, `user-${__VU}.mp4`, "video/mp4"), title: `from user ${__VU}` };
    const res = http.post(`${base}/v1/videos`, body, { headers: auth, tags: { name: "upload" } });
    check(res, { "upload 202": (r) => r.status === 202 });
    think();
  }
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
