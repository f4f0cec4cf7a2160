// SHA-256 of a file, off the page's main thread, reading it one slice at a time
// so that even a 50 GiB file never sits in memory. hash-wasm (pinned in
// package.json, served from node_modules) gives an incremental SHA-256 that
// works in any context; crypto.subtle can only digest a whole buffer at once.
//
// Messages in:  {type: 'hash', id, blob, partSize?}   {type: 'cancel', id}
// Messages out: {id, type: 'progress', bytes}
//               {id, type: 'done', sha256, parts}   parts: each part's sha256 when partSize was given
//               {id, type: 'error', message}        {id, type: 'cancelled'}
/* global hashwasm */
// The page says where hash-wasm is served (?library=); only this site's own copy is loaded.
const library = new URL(new URL(self.location.href).searchParams.get('library') || '', self.location.href)
if (library.origin !== self.location.origin) throw new Error('hash-wasm must come from this site')
importScripts(library.href)

const SLICE = 4 * 1024 * 1024
const PROGRESS_EVERY = 64 * 1024 * 1024
const cancelled = new Set()

async function hash ({ id, blob, partSize }) {
  const whole = await hashwasm.createSHA256()
  const part = partSize ? await hashwasm.createSHA256() : null
  whole.init()
  part?.init()
  const parts = []
  let offset = 0
  let reported = 0
  while (offset < blob.size) {
    if (cancelled.delete(id)) return { type: 'cancelled' }
    let end = Math.min(blob.size, offset + SLICE)
    // Slices never cross a part boundary, so each part's digest comes out of the same pass.
    if (partSize) end = Math.min(end, (Math.floor(offset / partSize) + 1) * partSize)
    const bytes = new Uint8Array(await blob.slice(offset, end).arrayBuffer())
    whole.update(bytes)
    if (part) {
      part.update(bytes)
      if (end % partSize === 0 || end === blob.size) {
        parts.push(part.digest('hex'))
        part.init()
      }
    }
    offset = end
    if (offset - reported >= PROGRESS_EVERY) {
      reported = offset
      self.postMessage({ id, type: 'progress', bytes: offset })
    }
  }
  return { type: 'done', sha256: whole.digest('hex'), parts }
}

self.onmessage = async ({ data }) => {
  if (data.type === 'cancel') {
    cancelled.add(data.id)
    return
  }
  try {
    self.postMessage({ id: data.id, ...(await hash(data)) })
  } catch (error) {
    self.postMessage({ id: data.id, type: 'error', message: String(error?.message || error) })
  } finally {
    cancelled.delete(data.id)
  }
}
