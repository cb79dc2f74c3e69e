// PostgreSQL 17 + TimescaleDB (the PGlite WASM build) served over the wire protocol, for the integration tier.
//
//   node server.mjs [port] [data-dir]        (or PGLITE_PORT / PGLITE_DATA_DIR; default port 55432, in memory)
//
// Prints "READY 127.0.0.1:<port>" once it accepts connections; SIGTERM / SIGINT stop it and exit 0.
//
// Why not pglite-socket's server: it hands each TCP read to the backend as it comes. A protocol message split
// across two reads (libpq writes a large INSERT or COPY in 8 KB pieces, and loopback timing decides where the
// reads fall) reached the backend in halves: the WASM backend died with `RuntimeError: unreachable`, or answered
// nothing while the client waited forever. Here every connection reassembles whole messages before the backend
// sees them, runs them one batch at a time, and answers every failure with an ErrorResponse instead of silence.
//
// Limits of this build: one client connection at a time (others wait up to PGLITE_QUEUE_TIMEOUT_MS, then get an
// error), one shared backend session (connect with psycopg prepare_threshold=None; a closing client's open
// transaction is rolled back; its settings stay), no background workers (policies never run by
// themselves: call refresh / run_job yourself). A saved data directory needs `LOAD 'timescaledb-tsl-2.23.0-dev'`
// after reopening; this script does it on start.
import net from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'

const port = Number(process.argv[2] ?? process.env.PGLITE_PORT ?? 55432)
const dataDir = process.argv[3] ?? process.env.PGLITE_DATA_DIR ?? undefined
const host = process.env.PGLITE_HOST ?? '127.0.0.1'
const queueTimeoutMs = Number(process.env.PGLITE_QUEUE_TIMEOUT_MS ?? 60000)
// A message begun but not finished within this long is a lost write: the client hears so, not silence.
const partialTimeoutMs = Number(process.env.PGLITE_PARTIAL_TIMEOUT_MS ?? 30000)
const slowBatchMs = Number(process.env.PGLITE_SLOW_MS ?? 10000)

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const MAX_STARTUP_LENGTH = 10000

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2] ?? process.env.PGLITE_PORT}`)
  process.exit(2)
}

function log(message) {
  console.error(`${new Date().toISOString()} ${message}`)
}

/** An ErrorResponse ('E') the client reports as an error with this code and message. */
function errorResponse(severity, code, message) {
  const fields = [['S', severity], ['V', severity], ['C', code], ['M', message]]
  const body = Buffer.concat([...fields.map(([k, v]) => Buffer.from(`${k}${v}\0`, 'utf8')), Buffer.from([0])])
  const head = Buffer.alloc(5)
  head.write('E', 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

function typedMessage(type, text) {
  const body = Buffer.from(`${text}\0`, 'utf8')
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

// Sent for a client that leaves: end an extended-protocol exchange, then roll back its open transaction, so the
// next client does not run inside it. Settings are not reset: RESET ALL / DISCARD ALL in this build also hide the
// tables created so far from the next client, unlike on a real backend.
const SYNC = Buffer.from([0x53, 0, 0, 0, 4])
const RESET_SESSION = Buffer.concat([SYNC, typedMessage('Q', 'ROLLBACK')])

class ProtocolError extends Error {}

/** Splits a byte stream into whole protocol messages: untyped startup packets first, then typed ones. */
class MessageReader {
  constructor() {
    this.pending = Buffer.alloc(0)
    this.startup = true
  }

  push(chunk) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk
  }

  get partial() {
    return this.pending.length > 0
  }

  /** The next whole message as {startup, code, bytes}, or null when more bytes are needed. */
  next() {
    const buf = this.pending
    if (this.startup) {
      if (buf.length < 8) return null
      const length = buf.readInt32BE(0)
      if (length < 8 || length > MAX_STARTUP_LENGTH) throw new ProtocolError(`invalid startup packet length ${length}`)
      if (buf.length < length) return null
      const code = buf.readInt32BE(4)
      this.pending = buf.subarray(length)
      if (code !== SSL_REQUEST && code !== GSSENC_REQUEST && code !== CANCEL_REQUEST) this.startup = false
      return { startup: true, code, bytes: buf.subarray(0, length) }
    }
    if (buf.length < 5) return null
    const length = buf.readInt32BE(1)
    if (length < 4) throw new ProtocolError(`invalid length ${length} for message '${String.fromCharCode(buf[0])}'`)
    if (buf.length < length + 1) return null
    this.pending = buf.subarray(length + 1)
    return { startup: false, code: buf[0], bytes: buf.subarray(0, length + 1) }
  }

  describePartial() {
    const buf = this.pending
    if (this.startup || buf.length < 5) return `${buf.length} bytes of a message header`
    return `${buf.length} of ${buf.readInt32BE(1) + 1} bytes of a '${String.fromCharCode(buf[0])}' message`
  }
}

class Connection {
  constructor(server, socket, id) {
    this.server = server
    this.socket = socket
    this.id = id
    this.reader = new MessageReader()
    this.work = Promise.resolve()
    this.active = false
    this.closed = false
    this.partialTimer = null
    socket.setNoDelay(true)
    socket.on('data', (chunk) => this.onData(chunk))
    socket.on('error', (err) => log(`connection ${id}: socket error ${err.message}`))
    socket.on('close', () => this.onClose())
  }

  activate() {
    this.active = true
    this.pump()
  }

  onData(chunk) {
    this.reader.push(chunk)
    if (this.active) this.pump()
  }

  /** Queues every whole message read so far for the backend, one batch after the previous one has answered. */
  pump() {
    const batch = []
    try {
      for (let message = this.reader.next(); message; message = this.reader.next()) {
        if (message.startup && (message.code === SSL_REQUEST || message.code === GSSENC_REQUEST)) {
          this.flush(batch)
          this.enqueue(() => this.write(Buffer.from('N')))
          continue
        }
        if (message.startup && message.code === CANCEL_REQUEST) {
          this.flush(batch) // nothing to cancel: a query here runs to its end before anything else is read
          this.enqueue(() => this.socket.end())
          continue
        }
        if (message.startup) {
          this.flush(batch) // the startup packet goes alone, as a fresh backend would read it
          this.enqueue(() => this.execute([message.bytes]))
          continue
        }
        batch.push(message.bytes)
      }
    } catch (err) {
      this.fail('08P01', `protocol error: ${err.message}`)
      return
    }
    this.flush(batch)
    this.watchPartial()
  }

  flush(batch) {
    if (!batch.length) return
    const messages = batch.splice(0, batch.length)
    this.enqueue(() => this.execute(messages))
  }

  enqueue(step) {
    this.work = this.work.then(() => (this.closed ? undefined : step()))
  }

  async execute(messages) {
    const started = Date.now()
    let answer
    try {
      answer = await this.server.db.execProtocolRaw(Buffer.concat(messages))
    } catch (err) {
      // The WASM backend does not survive this: tell the client, then stop, so later clients fail at once
      // instead of waiting on a dead instance.
      log(`connection ${this.id}: backend failed: ${err?.stack ?? err}`)
      this.write(errorResponse('FATAL', 'XX000', `PGlite backend failed: ${err?.message ?? err}`))
      this.socket.end()
      this.server.die(70)
      return
    }
    const took = Date.now() - started
    if (took > slowBatchMs) log(`connection ${this.id}: ${messages.length} message(s) took ${took} ms`)
    if (answer.length) this.write(answer)
  }

  write(bytes) {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes)
  }

  watchPartial() {
    clearTimeout(this.partialTimer)
    this.partialTimer = null
    if (!this.reader.partial || this.closed) return
    this.partialTimer = setTimeout(() => {
      this.fail('08006', `incomplete message: received ${this.reader.describePartial()}, ` +
        `then nothing for ${partialTimeoutMs} ms`)
    }, partialTimeoutMs)
  }

  fail(code, message) {
    log(`connection ${this.id}: ${message}`)
    this.write(errorResponse('FATAL', code, message))
    this.socket.end()
    this.socket.destroySoon?.()
  }

  onClose() {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.partialTimer)
    this.server.release(this)
  }
}

class Server {
  constructor(db) {
    this.db = db
    this.active = null
    this.waiting = []
    this.nextId = 1
    this.tcp = net.createServer((socket) => this.accept(socket))
    this.stopping = false
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject)
      this.tcp.listen(port, host, () => resolve())
    })
  }

  accept(socket) {
    const connection = new Connection(this, socket, this.nextId++)
    if (!this.active) {
      this.active = connection
      connection.activate()
      return
    }
    connection.queueTimer = setTimeout(() => {
      this.waiting = this.waiting.filter((c) => c !== connection)
      connection.fail('53300', `busy: another client has held the only connection for ${queueTimeoutMs} ms`)
    }, queueTimeoutMs)
    this.waiting.push(connection)
  }

  release(connection) {
    clearTimeout(connection.queueTimer)
    this.waiting = this.waiting.filter((c) => c !== connection)
    if (this.active !== connection) return
    // Reset the shared session once the leaving client's last batch has answered, then hand the backend over.
    connection.work
      .then(() => (this.stopping ? undefined : this.db.execProtocolRaw(RESET_SESSION)))
      .catch((err) => {
        log(`resetting the session after connection ${connection.id} failed: ${err?.stack ?? err}`)
        this.die(70)
      })
      .finally(() => {
        this.active = null
        const next = this.waiting.shift()
        if (next) {
          clearTimeout(next.queueTimer)
          this.active = next
          next.activate()
        }
      })
  }

  die(code) {
    if (this.stopping) return
    this.stopping = true
    this.tcp.close()
    setTimeout(() => process.exit(code), 100)
  }
}

const db = await PGlite.create({ dataDir, extensions: { timescaledb } })
if (dataDir) {
  // A reopened database has the extension in its catalog but the TSL module is not loaded yet.
  const { rows } = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
  if (rows.length) await db.exec("LOAD 'timescaledb-tsl-2.23.0-dev'")
}
const server = new Server(db)
await server.listen()
console.log(`READY ${host}:${port}`)

async function shutdown(signal) {
  if (server.stopping) return
  server.stopping = true
  server.tcp.close()
  try {
    await db.close()
  } catch (err) {
    log(`error while stopping on ${signal}: ${err?.stack ?? err}`)
    process.exit(1)
  }
  process.exit(0)
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
