// One Node process serving PostGraphile at http://127.0.0.1:$PORT/graphql.
import { createServer } from "node:http";
import { grafserv } from "postgraphile/grafserv/node";
import { postgraphile } from "postgraphile";
import preset from "./graphile.config.mjs";

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 65_000;
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
await pgl.getSchemaResult(); // build the schema before announcing readiness
const port = Number(process.env.PORT ?? 5678);
server.listen(port, "127.0.0.1", () => console.log(`PostGraphile serving http://127.0.0.1:${port}/graphql`));
