// PostGraphile 5 for the Storefront benchmark: the amber preset over the bench database.
// The pool connects through the embedded PostgreSQL's Unix socket (PGHOST is its folder).
import pg from "pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const pool = new pg.Pool({
  host: process.env.PGHOST,
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "storefront_bench",
  max: Number(process.env.PG_POOL_MAX ?? 10),
});

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // Filter on every column (posts.published has no index of its own), not only indexed ones.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [makePgService({ pool, schemas: ["public", "bench_pg"] })],
  grafserv: { port: Number(process.env.PORT ?? 5678), host: "127.0.0.1", graphiql: false },
  grafast: { explain: false },
  schema: { exportSchemaSDLPath: process.env.EXPORT_SDL || undefined },
};

export default preset;
