import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { viewerRequestFunctionCode } from './viewer-request';
import { functionLogging } from '../../internal/function-logging';
import { suppressNag } from '../../internal/nag';
import { OriginVerifyRotationFunction } from '../origin-verified-http-api/origin-verify-rotation-function';

/** Header that carries the origin-verify value from CloudFront to the server functions. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';
/** Key of the origin-verify value in the site's KeyValueStore. */
const ORIGIN_VERIFY_KVS_KEY = 'origin-verify';

/** The origin-verify wiring of a site: what the server functions read and CloudFront adds. */
export interface OriginVerify {
  readonly secret: secretsmanager.ISecret;
  readonly store: cloudfront.IKeyValueStore;
  /** Sets x-forwarded-host and adds the origin-verify header (on every server behaviour). */
  readonly viewerRequest: cloudfront.IFunction;
}

/**
 * The origin-verify secret, its KeyValueStore and rotation, and the viewer-request CloudFront
 * Function: a rotated secret that CloudFront adds from the store and the server functions
 * check, instead of IAM auth (origin access control signs no bodies).
 */
export function createOriginVerify(scope: Construct, rotationInterval: Duration | undefined): OriginVerify {
  const secret = new secretsmanager.Secret(scope, 'OriginVerifySecret', {
    description: `Origin-verify value CloudFront sends to the server functions of ${scope.node.path} (rotated; never set by hand)`,
    generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    // Nothing depends on a value surviving: a new secret is rotated into the store at once.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const store = new cloudfront.KeyValueStore(scope, 'OriginVerifyStore', {
    comment: `Origin-verify value of ${scope.node.path}, written by its rotation`,
  });
  const viewerRequest = new cloudfront.Function(scope, 'ViewerRequest', {
    comment: 'x-forwarded-host from Host; the origin-verify header from the KeyValueStore',
    runtime: cloudfront.FunctionRuntime.JS_2_0,
    keyValueStore: store,
    code: cloudfront.FunctionCode.fromInline(viewerRequestFunctionCode(store.keyValueStoreId, ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_KVS_KEY)),
  });
  const { role, logGroup } = functionLogging(scope, 'OriginVerifyRotation');
  // The rotation of OriginVerifiedHttpApi: new value as AWSPENDING (the servers accept it
  // from then on), a wait, the store, then AWSCURRENT. The servers re-read the secret on a
  // miss (at most every 10 s), so 30 s of waiting covers every instance.
  const rotation = new OriginVerifyRotationFunction(scope, 'OriginVerifyRotation', {
    role,
    logGroup,
    description: `Rotates the origin-verify value of ${scope.node.path} into its CloudFront KeyValueStore`,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    timeout: Duration.minutes(3),
    environment: { ACCEPT_DELAY_SECONDS: '30', KVS_ARN: store.keyValueStoreArn, KVS_ENTRY: ORIGIN_VERIFY_KVS_KEY },
  });
  rotation.addToRolePolicy(new iam.PolicyStatement({
    actions: ['cloudfront-keyvaluestore:DescribeKeyValueStore', 'cloudfront-keyvaluestore:GetKey', 'cloudfront-keyvaluestore:PutKey'],
    resources: [store.keyValueStoreArn],
  }));
  const schedule = secret.addRotationSchedule('Rotation', {
    rotationLambda: rotation,
    automaticallyAfter: rotationInterval ?? Duration.days(30),
    rotateImmediatelyOnUpdate: true,
  });
  schedule.node.addDependency(store);
  suppressNag(role.node.findChild('DefaultPolicy'), [{
    id: 'AwsSolutions-IAM5',
    reason: 'secretsmanager:GetRandomPassword supports no resource-level permissions; it only returns a random string',
    appliesTo: ['Resource::*'],
  }]);
  return { secret, store, viewerRequest };
}
