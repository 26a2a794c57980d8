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

// src/constructs/generated-secrets/generate-secret.lambda.ts
var generate_secret_lambda_exports = {};
__export(generate_secret_lambda_exports, {
  generateValue: () => generateValue,
  handler: () => handler,
  onEvent: () => onEvent
});
module.exports = __toCommonJS(generate_secret_lambda_exports);
var import_node_crypto = require("node:crypto");
var import_client_ssm = require("@aws-sdk/client-ssm");

// src/internal/cfn-response.ts
async function respondToCloudFormation(event, context, work, physicalResourceIdOnFailure) {
  const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
  let response;
  try {
    const result = await work();
    console.log(JSON.stringify({ requestType: event.RequestType, physicalResourceId: result.physicalResourceId, ...result.logFields }));
    response = { ...base, Status: "SUCCESS", PhysicalResourceId: result.physicalResourceId, Data: result.data ?? {} };
  } catch (e) {
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.error(JSON.stringify({ requestType: event.RequestType, error: reason }));
    response = { ...base, Status: "FAILED", Reason: `${reason} (log stream ${context.logStreamName})`, PhysicalResourceId: physicalResourceIdOnFailure };
  }
  const body = JSON.stringify(response);
  const put = await fetch(event.ResponseURL, {
    method: "PUT",
    body,
    headers: { "content-type": "", "content-length": String(Buffer.byteLength(body)) }
  });
  if (!put.ok) throw new Error(`CloudFormation response upload failed: HTTP ${put.status}`);
}

// src/constructs/generated-secrets/generate-secret.lambda.ts
var ssm = new import_client_ssm.SSMClient({});
function generateValue(length) {
  return (0, import_node_crypto.randomBytes)(Math.ceil(length * 3 / 4) + 3).toString("base64url").slice(0, length);
}
async function onEvent(event) {
  const props = event.ResourceProperties;
  const name = props.ParameterName;
  const length = Number(props.Length);
  if (!name?.startsWith("/") || !Number.isInteger(length) || length < 16 || length > 1024) {
    throw new Error(`Invalid properties: ParameterName must be an absolute SSM path and Length 16-1024 (got ${JSON.stringify(name)}, ${JSON.stringify(props.Length)})`);
  }
  if (event.RequestType === "Delete") {
    if (props.DeleteOnRemoval === "true" && event.PhysicalResourceId === name) {
      try {
        await ssm.send(new import_client_ssm.DeleteParameterCommand({ Name: name }));
      } catch (e) {
        if (!(e instanceof import_client_ssm.ParameterNotFound)) throw e;
      }
    }
    return { physicalId: event.PhysicalResourceId, created: false };
  }
  try {
    await ssm.send(new import_client_ssm.PutParameterCommand({
      Name: name,
      Type: "SecureString",
      Value: generateValue(length),
      Overwrite: false,
      Description: props.Description ?? "Generated on first deploy; never overwritten by CloudFormation"
    }));
    return { physicalId: name, created: true };
  } catch (e) {
    if (e instanceof import_client_ssm.ParameterAlreadyExists) return { physicalId: name, created: false };
    throw e;
  }
}
async function handler(event, context) {
  const failedId = event.RequestType === "Create" ? `failed-${event.RequestId}` : event.PhysicalResourceId;
  await respondToCloudFormation(event, context, async () => {
    const { physicalId, created } = await onEvent(event);
    return { physicalResourceId: physicalId, data: { ParameterName: physicalId }, logFields: { created } };
  }, failedId);
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  generateValue,
  handler,
  onEvent
});
