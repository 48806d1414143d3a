// A supervisor-system stand-in: receives agentcast webhooks and verifies each one with the
// official Standard Webhooks library (npm install standardwebhooks).
//
//     WEBHOOK_SECRET=whsec_... node examples/webhook_receiver.mjs [--port 9001] [--count N]
//
// Prints one line per delivery; answers 204 when the signature verified, 401 when not. With
// --count it exits after N verified deliveries (code 0), or with code 1 on a failed one.
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const port = arg("--port", 9001);
const count = arg("--count", 0);
const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("set WEBHOOK_SECRET to the endpoint's whsec_ secret");
  process.exit(2);
}
// The library takes the base64 part of the secret, without the whsec_ prefix.
const webhook = new Webhook(secret.replace(/^whsec_/, ""));
let verified = 0;

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const payload = webhook.verify(body, req.headers);
      verified += 1;
      const violations = payload.violations.map((v) => v.kind);
      console.log(`verified ${req.headers["webhook-id"]} agent ${payload.agentId} ` +
        `${payload.availabilityStatusMatrix.currentStatus} ${JSON.stringify(violations)}`);
      res.writeHead(204).end();
      if (count && verified >= count) server.close(() => process.exit(0));
    } catch (err) {
      console.log(`REFUSED ${req.headers["webhook-id"]}: ${err.message}`);
      res.writeHead(401).end();
      server.close(() => process.exit(1));
    }
  });
});
server.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}/webhook`));
