// lambdaver's Node.js runtime: what runs inside a Node function's process.
//
// Two ways in (see lambdaver/runtime/node.py):
//   node bootstrap.cjs JOB_FD RESULT_FD   one invocation; the job arrives on a pipe and
//                                          the outcome leaves as frames on another (the
//                                          frame format of var_runtime/bootstrap.py)
//   node bootstrap.cjs --runtime-api      a warm environment: invocations come from the
//                                          Lambda Runtime API at AWS_LAMBDA_RUNTIME_API
//
// Its behaviour mirrors AWS's Node.js runtime interface client: handler resolution
// (CommonJS, ES modules, package.json "type"), the Runtime.* error types, the error
// payload {"errorType", "errorMessage", "trace"}, the console format
// "TIMESTAMP\tREQUEST-ID\tLEVEL\tmessage", callback handlers and
// context.callbackWaitsForEmptyEventLoop.  It uses nothing but Node's own modules and
// runs on every Node version from 16 on.
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

// --- the frames of the pipe protocol (kind byte, uint32 length, float64 monotonic s) ---
const HELLO = 0x48; // 'H'
const INIT_DONE = 0x49; // 'I'
const RESULT = 0x52; // 'R'
const ERROR = 0x45; // 'E'
const MAX_RESPONSE_BYTES = 6291556;

function monotonic() {
  // uv_hrtime is CLOCK_MONOTONIC, the clock of Python's time.monotonic()
  return Number(process.hrtime.bigint()) / 1e9;
}

function writeAll(fd, buffer) {
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function sendFrame(fd, kind, body) {
  const data = body ? Buffer.from(body) : Buffer.alloc(0);
  const header = Buffer.alloc(13);
  header.writeUInt8(kind, 0);
  header.writeUInt32BE(data.length, 1);
  header.writeDoubleBE(monotonic(), 5);
  writeAll(fd, Buffer.concat([header, data]));
}

// --- errors (AWS's Errors.js) ---------------------------------------------------------

function runtimeError(name, message) {
  class RuntimeError extends Error {}
  Object.defineProperty(RuntimeError.prototype, 'name', { value: `Runtime.${name}` });
  return new RuntimeError(message);
}

function isError(obj) {
  return (
    obj && typeof obj.name === 'string' && typeof obj.message === 'string' &&
    typeof obj.stack === 'string'
  );
}

/** $LATEST runs from a copy of the function's directory: its stack traces name the
 * user's files instead (set by runOnce when the job says where they are). */
const sourceOf = { code: '', source: '' };

function userPaths(line) {
  if (!sourceOf.source) return line;
  return line
    .split(pathToFileURL(sourceOf.code).href).join(pathToFileURL(sourceOf.source).href)
    .split(sourceOf.code).join(sourceOf.source);
}

/** The response body of an error: {"errorType", "errorMessage", "trace"}. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isError(error)) {
      return {
        errorType: error.name,
        errorMessage: userPaths(error.message),
        trace: error.stack.split('\n').map(userPaths),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_e) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving ' +
        'one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign(
      { errorType: error.name, errorMessage: error.message, code: error.code },
      error,
    );
    if (typeof error.stack === 'string') ret.stack = error.stack.split('\n');
    return ret;
  }
  return error;
}

/** The log form of an error: a tab, then JSON. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_e) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

// --- the console (AWS's LogPatch.js, text format) --------------------------------------

let currentRequestId; // undefined during init, as AWS logs it

function patchConsole() {
  const levels = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
  const wanted = levels[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || 1;
  const logger = (level) => (message, ...params) => {
    let line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(
      message,
      ...params,
    )}`;
    line = line.replace(/\n/g, '\r');
    writeAll(1, Buffer.from(line + '\n', 'utf8'));
  };
  const nop = () => {};
  console.trace = levels.TRACE >= wanted ? logger('TRACE') : nop;
  console.debug = levels.DEBUG >= wanted ? logger('DEBUG') : nop;
  console.info = levels.INFO >= wanted ? logger('INFO') : nop;
  console.log = console.info;
  console.warn = levels.WARN >= wanted ? logger('WARN') : nop;
  console.error = levels.ERROR >= wanted ? logger('ERROR') : nop;
  console.fatal = logger('FATAL');
}

function logError(label, err) {
  console.error(label, toFormatted(intoError(err)));
}

// --- loading the handler (AWS's UserFunction.js) ---------------------------------------

function hasPackageTypeModule(folder, root) {
  // The nearest package.json decides; the search stops at a node_modules folder and does
  // not go above the function's root (AWS's /var/task has no package.json above it).
  for (;;) {
    if (folder.endsWith(`${path.sep}node_modules`)) return false;
    const pj = path.join(folder, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        return Boolean(pkg && pkg.type === 'module');
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder || folder === root) return false;
    folder = parent;
  }
}

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function tryImport(file) {
  if (!fs.existsSync(file)) return undefined;
  return import(require('url').pathToFileURL(file).href);
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const esm = hasPackageTypeModule(path.dirname(base), appRoot);
  if (!esm) {
    const loaded = tryRequire(base + '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (esm && (await tryImport(base + '.js'))) ||
    (await tryImport(base + '.mjs')) ||
    tryRequire(base + '.cjs');
  if (loaded) return loaded;
  const resolved = require.resolve(moduleName, { paths: [appRoot, moduleRoot] });
  return require(resolved);
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw runtimeError(
      'MalformedHandlerName',
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match || match.length !== 3) throw runtimeError('MalformedHandlerName', 'Bad handler');
  const [, moduleName, handlerPath] = match;
  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw runtimeError('UserCodeSyntaxError', String(e));
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw runtimeError('ImportModuleError', String(e));
    }
    throw e;
  }
  const fn = handlerPath.split('.').reduce((nested, key) => nested && nested[key], app);
  if (!fn) throw runtimeError('HandlerNotFound', `${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') {
    throw runtimeError('HandlerNotFound', `${fullHandler} is not a function`);
  }
  return fn;
}

// --- one invocation (AWS's Runtime.js and CallbackContext.js) --------------------------

let beforeExit = null; // what to do when the event loop empties during an invocation
process.on('beforeExit', () => {
  const action = beforeExit;
  beforeExit = null;
  if (action) action();
});

let errorCallbacks = {
  uncaughtException: (err) => {
    logError('Uncaught Exception', err);
    process.exit(129);
  },
  unhandledRejection: (err) => {
    logError('Unhandled Promise Rejection', err);
    process.exit(128);
  },
};
process.on('uncaughtException', (err) => errorCallbacks.uncaughtException(err));
process.on('unhandledRejection', (reason) => {
  const err = runtimeError(
    'UnhandledPromiseRejection',
    reason && reason.stack ? reason.stack : String(reason),
  );
  err.reason = reason;
  errorCallbacks.unhandledRejection(err);
});

function isAsyncFunction(fn) {
  try {
    return Boolean(fn && fn.constructor && fn.constructor.name === 'AsyncFunction');
  } catch (_e) {
    return false;
  }
}

/**
 * Run the handler once.  ``transport`` has postResponse(body) and postError(obj), each
 * taking a ``then`` continuation.  ``invocation``: {requestId, deadlineMs, arn, event,
 * clientContext, identity}.
 */
function runInvocation(handler, invocation, transport, then) {
  currentRequestId = invocation.requestId;
  let completed = false;
  let waitForEmptyEventLoop = true;

  const postError = (err) => {
    logError('Invoke Error', err);
    transport.postError(toRapidResponse(err), then);
  };
  const complete = (result) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    completed = true;
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      postError(e);
      return;
    }
    if (Buffer.byteLength(body) > MAX_RESPONSE_BYTES) {
      transport.postError(
        {
          errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
          errorType: 'Function.ResponseSizeTooLarge',
        },
        then,
      );
      return;
    }
    transport.postResponse(body, then);
  };

  let finished = false;
  const once = (fn) => (...args) => {
    if (!finished) {
      finished = true;
      fn(...args);
    }
  };
  const done = (err, result) => {
    beforeExit = null;
    if (err !== undefined && err !== null) {
      completed = true;
      postError(err);
    } else {
      complete(result);
    }
  };
  const callback = once((err, result) => {
    beforeExit = null;
    if (err !== undefined && err !== null) {
      completed = true;
      postError(err);
    } else if (!waitForEmptyEventLoop) {
      complete(result);
    } else {
      beforeExit = () => setImmediate(() => complete(result));
    }
  });
  const succeed = once((result) => done(null, result));
  const fail = once((err) => done(err === undefined || err === null ? 'handled' : err, null));

  const deadline = invocation.deadlineMs;
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed,
    fail,
    done: once(done),
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: invocation.clientContext,
    identity: invocation.identity,
    invokedFunctionArn: invocation.arn,
    awsRequestId: invocation.requestId,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };

  errorCallbacks = {
    uncaughtException: (err) => {
      logError('Uncaught Exception', err);
      transport.postError(toRapidResponse(err), () => process.exit(129));
    },
    unhandledRejection: (err) => {
      logError('Unhandled Promise Rejection', err);
      transport.postError(toRapidResponse(err), () => process.exit(128));
    },
  };
  const isAsync = isAsyncFunction(handler);
  beforeExit = () => {
    // the event loop emptied and nothing reported: AWS's default exit listener
    completed = true;
    if (isAsync) {
      const err = runtimeError(
        'NodeJsExit',
        'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
          'commonly caused by a Promise that was never settled. For more information, see ' +
          'https://nodejs.org/docs/latest/api/process.html#exit-codes',
      );
      postError(err);
    } else {
      transport.postResponse('null', then);
    }
  };

  try {
    const result = handler(invocation.event, context, callback);
    if (result && typeof result.then === 'function') {
      result.then(succeed, fail).catch(fail);
    }
  } catch (err) {
    callback(err);
  }
}

// --- the pipe protocol: one invocation -------------------------------------------------

function readAll(fd) {
  const chunks = [];
  const buffer = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  fs.closeSync(fd);
  return Buffer.concat(chunks);
}

async function runOnce(jobFd, resultFd) {
  sendFrame(resultFd, HELLO, process.version);
  const data = readAll(jobFd);
  const headerLength = data.readUInt32BE(0);
  const job = JSON.parse(data.subarray(4, 4 + headerLength).toString('utf8'));
  const payload = data.subarray(4 + headerLength);
  patchConsole();
  process.chdir(job.code_dir);
  if (job.source_dir) Object.assign(sourceOf, { code: job.code_dir, source: job.source_dir });
  const exitAfter = (status) => () => process.exit(status);
  const transport = {
    postResponse: (body, then) => {
      sendFrame(resultFd, RESULT, body);
      then();
    },
    postError: (obj, then) => {
      sendFrame(resultFd, ERROR, JSON.stringify(obj));
      then();
    },
  };
  let handler;
  try {
    handler = await loadHandler(job.code_dir, job.handler);
  } catch (err) {
    logError('Uncaught Exception', err);
    transport.postError(toRapidResponse(err), exitAfter(129));
    return;
  }
  writeAll(1, Buffer.from(`START RequestId: ${job.request_id} Version: ${job.function_version}\n`));
  sendFrame(resultFd, INIT_DONE);
  const text = payload.length ? payload.toString('utf8') : '{}';
  runInvocation(
    handler,
    {
      requestId: job.request_id,
      deadlineMs: Date.now() + job.timeout * 1000,
      arn: job.invoked_function_arn,
      event: JSON.parse(text),
      // the caller's object as it sent it; absent (undefined) when it sent none
      clientContext: job.client_context === null ? undefined : job.client_context,
    },
    transport,
    exitAfter(0),
  );
}

// --- the Runtime API: a warm environment ------------------------------------------------

function request(method, urlPath, body) {
  const http = require('http');
  const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        method,
        path: `/2018-06-01/runtime/${urlPath}`,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        agent: false,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function runWarm() {
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const fatal = (err) => {
    process.stderr.write(`lambdaver runtime: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  };
  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER);
  } catch (err) {
    logError('Uncaught Exception', err);
    const body = toRapidResponse(err);
    request('POST', 'init/error', JSON.stringify(body)).then(() => process.exit(129), fatal);
    return;
  }
  const transport = {
    id: '',
    postResponse(body, then) {
      request('POST', `invocation/${this.id}/response`, body).then(then, fatal);
    },
    postError(obj, then) {
      request('POST', `invocation/${this.id}/error`, JSON.stringify(obj)).then(then, fatal);
    },
  };
  const next = () => {
    request('GET', 'invocation/next').then((res) => {
      const h = res.headers;
      const parse = (v) => (v === undefined ? undefined : JSON.parse(v));
      transport.id = h['lambda-runtime-aws-request-id'];
      if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
      else delete process.env._X_AMZN_TRACE_ID;
      runInvocation(
        handler,
        {
          requestId: transport.id,
          deadlineMs: Number(h['lambda-runtime-deadline-ms']),
          arn: h['lambda-runtime-invoked-function-arn'],
          event: JSON.parse(res.body.toString('utf8') || '{}'),
          clientContext: parse(h['lambda-runtime-client-context']),
          identity: parse(h['lambda-runtime-cognito-identity']),
        },
        transport,
        () => setImmediate(next),
      );
    }, fatal);
  };
  next();
}

if (process.argv[2] === '--runtime-api') {
  runWarm();
} else {
  runOnce(Number(process.argv[2]), Number(process.argv[3])).catch((e) => {
    process.stderr.write(`lambdaver runtime: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
