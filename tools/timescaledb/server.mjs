// PostgreSQL 17 + TimescaleDB (the PGlite WASM build) served over the wire protocol, for the integration tier.
//
//   node server.mjs [port] [data-dir]        (or PGLITE_PORT / PGLITE_DATA_DIR; default port 55432, in memory)
//
// Prints "READY 127.0.0.1:<port>" once it accepts connections; SIGTERM / SIGINT stop it and exit 0.
// Limits of this build: one client connection at a time (others queue, for PGLITE_QUEUE_TIMEOUT_MS), one shared
// backend session (connect with psycopg prepare_threshold=None; SET leaks between clients), no background
// workers (policies never run by themselves: call refresh / run_job yourself). A saved data directory needs
// `LOAD 'timescaledb-tsl-2.23.0-dev'` after reopening; this script does it on start.
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number(process.argv[2] ?? process.env.PGLITE_PORT ?? 55432)
const dataDir = process.argv[3] ?? process.env.PGLITE_DATA_DIR ?? undefined
const host = process.env.PGLITE_HOST ?? '127.0.0.1'
const queueTimeout = Number(process.env.PGLITE_QUEUE_TIMEOUT_MS ?? 60000)

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2] ?? process.env.PGLITE_PORT}`)
  process.exit(2)
}

const db = await PGlite.create({ dataDir, extensions: { timescaledb } })
if (dataDir) {
  // A reopened database has the extension in its catalog but the TSL module is not loaded yet.
  const { rows } = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
  if (rows.length) await db.exec("LOAD 'timescaledb-tsl-2.23.0-dev'")
}
const server = new PGLiteSocketServer({ db, port, host, connectionQueueTimeout: queueTimeout })
server.addEventListener('error', (event) => console.error('server error:', event.detail ?? event))
await server.start()
console.log(`READY ${host}:${port}`)

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  try {
    await server.stop()
    await db.close()
  } catch (err) {
    console.error(`error while stopping on ${signal}:`, err)
    process.exit(1)
  }
  process.exit(0)
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
