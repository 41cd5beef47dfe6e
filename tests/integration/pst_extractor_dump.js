// What pst-extractor (npm) reads from a PST file, one JSON object a line, for
// tests/integration/pst_compare_readers.py:
//   {"t":"F","path":[names from the root],"count":N}          a folder
//   {"t":"M","path":[...],"subject":S,"atts":[A...]}          a message of it
//   A = {"name":long file name,"method":M,"sha":16 hex}         attachment by value
//     | {"name":...,"method":5,"inner":subject}                 embedded message
//   {"t":"E","path":[...],"error":text}                       an unreadable part
// usage: NODE_PATH=<dir>/node_modules node pst_extractor_dump.js FILE.pst
'use strict';
const crypto = require('crypto');
const { PSTFile } = require('pst-extractor');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function attachment(msg, i) {
  const a = msg.getAttachment(i);
  const name = a.longFilename || '';
  if (a.attachMethod === 5) {
    const inner = a.embeddedPSTMessage;
    return { name, method: 5, inner: inner ? inner.subject || '' : null };
  }
  const stream = a.fileInputStream;
  let data = Buffer.alloc(0);
  if (stream) {
    data = Buffer.alloc(stream.length.toNumber());
    stream.readCompletely(data);
  }
  return { name, method: a.attachMethod, sha: crypto.createHash('sha256').update(data).digest('hex').slice(0, 16) };
}

function walk(folder, path) {
  out({ t: 'F', path, count: folder.contentCount });
  if (folder.contentCount > 0) {
    for (let msg = folder.getNextChild(); msg !== null; msg = folder.getNextChild()) {
      const atts = [];
      try {
        for (let i = 0; i < msg.numberOfAttachments; i++) atts.push(attachment(msg, i));
      } catch (e) {
        out({ t: 'E', path, error: `attachments of "${msg.subject}": ${e.message}` });
      }
      out({ t: 'M', path, subject: msg.subject || '', atts });
    }
  }
  if (folder.hasSubfolders) {
    let children = [];
    try {
      children = folder.getSubFolders();
    } catch (e) {
      out({ t: 'E', path, error: `subfolders: ${e.message}` });
    }
    for (const child of children) walk(child, path.concat([child.displayName || '']));
  }
}

let pst;
try {
  pst = new PSTFile(process.argv[2]);
} catch (e) {
  out({ t: 'E', path: [], error: `open failed: ${e.message}` });
  process.exit(2);
}
walk(pst.getRootFolder(), []);
