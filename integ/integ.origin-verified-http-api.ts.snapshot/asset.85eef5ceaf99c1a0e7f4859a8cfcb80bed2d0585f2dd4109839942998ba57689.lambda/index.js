"use strict";
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// src/constructs/origin-verified-http-api/origin-verify-rotation.lambda.ts
var origin_verify_rotation_lambda_exports = {};
__export(origin_verify_rotation_lambda_exports, {
  handler: () => handler,
  keyValueStoreClient: () => keyValueStoreClient,
  rotationSettings: () => rotationSettings,
  sigV4aSignerConstructor: () => sigV4aSignerConstructor
});
module.exports = __toCommonJS(origin_verify_rotation_lambda_exports);
var import_client_cloudfront_keyvaluestore = require("@aws-sdk/client-cloudfront-keyvaluestore");
var import_client_secrets_manager = require("@aws-sdk/client-secrets-manager");
var import_client_ssm = require("@aws-sdk/client-ssm");
function sigV4aSignerConstructor() {
  try {
    return require("@smithy/signature-v4a").SignatureV4a;
  } catch {
    return void 0;
  }
}
function keyValueStoreClient(config = {}) {
  const signerConstructor = sigV4aSignerConstructor();
  return new import_client_cloudfront_keyvaluestore.CloudFrontKeyValueStoreClient({ ...config, ...signerConstructor ? { signerConstructor } : {} });
}
var secrets = new import_client_secrets_manager.SecretsManagerClient({});
var ssm = new import_client_ssm.SSMClient({});
var kvs = keyValueStoreClient();
var MIN_LENGTH = 32;
var VALUE_LENGTH = 64;
function rotationSettings(env = process.env) {
  return {
    kvsArn: env.KVS_ARN || void 0,
    kvsKey: env.KVS_ENTRY || "origin-verify",
    hostParameterName: env.HOST_PARAMETER_NAME || void 0,
    hostInstanceId: env.HOST_INSTANCE_ID || void 0,
    hostRefreshCommands: JSON.parse(env.HOST_REFRESH_COMMANDS || "[]"),
    commandTimeoutMs: Number(env.COMMAND_TIMEOUT_SECONDS ?? "180") * 1e3,
    pollIntervalMs: Number(env.POLL_INTERVAL_MS ?? "3000")
  };
}
async function handler(event) {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const described = await secrets.send(new import_client_secrets_manager.DescribeSecretCommand({ SecretId: secretId }));
  if (described.RotationEnabled === false) throw new Error(`Secret ${secretId} does not have rotation enabled`);
  const stages = described.VersionIdsToStages?.[token];
  if (!stages) throw new Error(`Version ${token} of ${secretId} has no stage; it is not being rotated`);
  if (stages.includes("AWSCURRENT")) {
    log(step, "version is already AWSCURRENT; nothing to do", secretId);
    return;
  }
  if (!stages.includes("AWSPENDING")) throw new Error(`Version ${token} of ${secretId} is not AWSPENDING`);
  const s = rotationSettings();
  switch (step) {
    case "createSecret":
      return createSecret(secretId, token);
    case "setSecret":
      return log(step, "nothing to set: the authorizer reads AWSPENDING itself", secretId);
    case "testSecret":
      return testSecret(secretId, token);
    case "finishSecret":
      return finishSecret(secretId, token, s);
    default:
      throw new Error(`Unknown rotation step ${JSON.stringify(step)}`);
  }
}
async function createSecret(secretId, token) {
  await secrets.send(new import_client_secrets_manager.GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }));
  try {
    await secrets.send(new import_client_secrets_manager.GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: "AWSPENDING" }));
    log("createSecret", "pending value already exists", secretId);
    return;
  } catch (e) {
    if (!(e instanceof import_client_secrets_manager.ResourceNotFoundException)) throw e;
  }
  const random = await secrets.send(new import_client_secrets_manager.GetRandomPasswordCommand({
    PasswordLength: VALUE_LENGTH,
    ExcludePunctuation: true,
    IncludeSpace: false
  }));
  await secrets.send(new import_client_secrets_manager.PutSecretValueCommand({
    SecretId: secretId,
    ClientRequestToken: token,
    SecretString: random.RandomPassword,
    VersionStages: ["AWSPENDING"]
  }));
  log("createSecret", "pending value created", secretId);
}
async function pendingValue(secretId, token) {
  const out = await secrets.send(new import_client_secrets_manager.GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: "AWSPENDING" }));
  const value = out.SecretString ?? "";
  if (value.length < MIN_LENGTH || !/^[A-Za-z0-9]+$/.test(value)) {
    throw new Error(`Pending value of ${secretId} must be at least ${MIN_LENGTH} letters and digits (got ${value.length} characters)`);
  }
  return value;
}
async function testSecret(secretId, token) {
  await pendingValue(secretId, token);
  log("testSecret", "pending value is well-formed", secretId);
}
async function finishSecret(secretId, token, s) {
  const value = await pendingValue(secretId, token);
  if (s.kvsArn) await writeKeyValueStore(s.kvsArn, s.kvsKey, value);
  if (s.hostParameterName) {
    await ssm.send(new import_client_ssm.PutParameterCommand({ Name: s.hostParameterName, Value: value, Type: "SecureString", Overwrite: true }));
    log("finishSecret", `host parameter ${s.hostParameterName} updated`, secretId);
  }
  if (s.hostInstanceId && s.hostRefreshCommands.length > 0) {
    await runOnHost(s.hostInstanceId, s.hostRefreshCommands, s, secretId);
  }
  const described = await secrets.send(new import_client_secrets_manager.DescribeSecretCommand({ SecretId: secretId }));
  const currentVersion = Object.entries(described.VersionIdsToStages ?? {}).find(([, versionStages]) => versionStages.includes("AWSCURRENT"))?.[0];
  if (currentVersion === token) return;
  await secrets.send(new import_client_secrets_manager.UpdateSecretVersionStageCommand({
    SecretId: secretId,
    VersionStage: "AWSCURRENT",
    MoveToVersionId: token,
    RemoveFromVersionId: currentVersion
  }));
  log("finishSecret", `version ${token} is AWSCURRENT`, secretId);
}
async function writeKeyValueStore(kvsArn, key, value) {
  try {
    const existing = await kvs.send(new import_client_cloudfront_keyvaluestore.GetKeyCommand({ KvsARN: kvsArn, Key: key }));
    if (existing.Value === value) return;
  } catch (e) {
    if (!(e instanceof import_client_cloudfront_keyvaluestore.ResourceNotFoundException)) throw e;
  }
  const { ETag } = await kvs.send(new import_client_cloudfront_keyvaluestore.DescribeKeyValueStoreCommand({ KvsARN: kvsArn }));
  await kvs.send(new import_client_cloudfront_keyvaluestore.PutKeyCommand({ KvsARN: kvsArn, Key: key, Value: value, IfMatch: ETag }));
  log("finishSecret", `key value store key ${key} updated`, kvsArn);
}
var TERMINAL = /* @__PURE__ */ new Set(["Success", "Cancelled", "TimedOut", "Failed", "Cancelling"]);
async function runOnHost(instanceId, commands, s, secretId) {
  const sent = await ssm.send(new import_client_ssm.SendCommandCommand({
    InstanceIds: [instanceId],
    DocumentName: "AWS-RunShellScript",
    Comment: "origin-verify rotation: reload the origin verify key",
    Parameters: { commands },
    TimeoutSeconds: Math.max(30, Math.ceil(s.commandTimeoutMs / 1e3))
  }));
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new Error("SendCommand returned no command id");
  const deadline = Date.now() + s.commandTimeoutMs;
  for (; ; ) {
    await sleep(s.pollIntervalMs);
    let status;
    try {
      const inv = await ssm.send(new import_client_ssm.GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      status = inv.Status;
    } catch (e) {
      if (!(e instanceof import_client_ssm.InvocationDoesNotExist)) throw e;
    }
    if (status === "Success") {
      log("finishSecret", `host refresh command ${commandId} succeeded`, secretId);
      return;
    }
    if (status && TERMINAL.has(status)) {
      throw new Error(`Host refresh command ${commandId} on ${instanceId} ended ${status}; see its output in SSM Run Command`);
    }
    if (Date.now() > deadline) {
      throw new Error(`Host refresh command ${commandId} on ${instanceId} did not finish within ${s.commandTimeoutMs / 1e3} s (last status ${status ?? "unknown"})`);
    }
  }
}
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function log(step, message, resource) {
  console.log(JSON.stringify({ step, message, resource }));
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  handler,
  keyValueStoreClient,
  rotationSettings,
  sigV4aSignerConstructor
});
