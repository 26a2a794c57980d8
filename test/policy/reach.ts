// Which roles a principal can act as, transitively: by assuming them (identity policy and
// trust policy both allow), by passing them to a service it can start (CloudFormation,
// Lambda), by updating a stack CloudFormation deploys with them (UpdateStack and change sets
// reuse the stack's role without iam:PassRole), by creating a role (with whatever boundary
// the policy demands), and by running commands on an instance (which then acts as the
// instance's role).
import { AccountModel, PolicyDocument, RoleModel, Statement } from './iam-model';

export interface InstanceModel {
  readonly arn: string;
  readonly tags: Record<string, string>;
  /** ARN of the instance profile's role. */
  readonly roleArn: string;
}

/** An SSM Command document of the account (synthesized by the app). */
export interface DocumentModel {
  readonly arn: string;
  /** Whether it declares parameters: then the sender, not the document, decides what runs. */
  readonly hasParameters: boolean;
}

/**
 * AWS-owned Command documents that run whatever the sender passes: shell or PowerShell lines,
 * a script or document fetched from S3 or GitHub, a playbook, recipe, state or hook. Sending
 * any of them to an instance is running arbitrary commands there as root.
 */
export const SHELL_DOCUMENTS = [
  'AWS-RunShellScript', 'AWS-RunPowerShellScript', 'AWS-RunRemoteScript', 'AWS-RunDocument',
  'AWS-RunAnsiblePlaybook', 'AWS-ApplyAnsiblePlaybooks', 'AWS-RunSaltState', 'AWS-ApplyChefRecipes',
  'AWS-ApplyDSCMofs', 'AWS-RunInspecChecks', 'AWS-RunPatchBaselineWithHooks', 'AWS-InstallApplication',
] as const;

/** A Lambda function and the role its code runs as. */
export interface FunctionModel {
  readonly arn: string;
  readonly roleArn: string;
}

export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly how: string;
}

const ADMIN: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

export class Reachability {
  public readonly instances: InstanceModel[] = [];
  /** Functions whose code, once replaced, runs as their role. */
  public readonly functions: FunctionModel[] = [];
  /** The account's own Command documents (the app's parameterless host commands). */
  public readonly documents: DocumentModel[] = [];
  /** Roles a reached principal could create (by ARN), with the boundary it would have to give them. */
  public readonly synthetic = new Map<string, RoleModel>();

  constructor(private readonly model: AccountModel, private readonly regions: string[]) {}

  /** Every role reachable from `start` (itself included), with the first edge that reached it. */
  public async from(start: RoleModel): Promise<Map<string, Edge | undefined>> {
    const reached = new Map<string, Edge | undefined>([[start.arn, undefined]]);
    const queue: RoleModel[] = [start];
    while (queue.length > 0) {
      const r = queue.shift()!;
      for (const edge of await this.edges(r)) {
        if (reached.has(edge.to)) continue;
        reached.set(edge.to, edge);
        queue.push(this.roleOrSynthetic(edge.to));
      }
    }
    return reached;
  }

  private roleOrSynthetic(arn: string): RoleModel {
    return this.synthetic.get(arn) ?? this.model.role(arn);
  }

  private async edges(r: RoleModel): Promise<Edge[]> {
    const out: Edge[] = [];
    const m = this.model;
    const acct = m.account;
    for (const t of m.roles.values()) {
      if (t.arn === r.arn) continue;
      if (mayAllow(r, 'sts:AssumeRole') && await m.decide(r, 'sts:AssumeRole', t.arn, {}, t.trust) === 'Allowed') {
        out.push({ from: r.arn, to: t.arn, how: 'sts:AssumeRole' });
        continue;
      }
      if (mayAllow(r, 'iam:PassRole')) {
        for (const region of this.regions) {
          if (trustsService(t, 'cloudformation.amazonaws.com')
            && await m.decide(r, 'iam:PassRole', t.arn, { 'iam:PassedToService': 'cloudformation.amazonaws.com' }) === 'Allowed'
            && await this.canCreateStack(r, region, t.arn)) {
            out.push({ from: r.arn, to: t.arn, how: `iam:PassRole + a stack or change set (${region})` });
            break;
          }
          if (trustsService(t, 'lambda.amazonaws.com')
            && await m.decide(r, 'iam:PassRole', t.arn, { 'iam:PassedToService': 'lambda.amazonaws.com' }) === 'Allowed'
            && mayAllow(r, 'lambda:CreateFunction')
            && await m.decide(r, 'lambda:CreateFunction', `arn:aws:lambda:${region}:${acct}:function:attacker`) === 'Allowed') {
            out.push({ from: r.arn, to: t.arn, how: `iam:PassRole + lambda:CreateFunction (${region})` });
            break;
          }
        }
      }
    }
    // UpdateStack / change sets on an existing stack run as the role the stack was deployed with.
    for (const [stack, { region, roleArn }] of m.stackRoles) {
      if (roleArn === r.arn || !m.roles.has(roleArn)) continue;
      const arn = `arn:aws:cloudformation:${region}:${acct}:stack/${stack}/00000000-0000-0000-0000-000000000000`;
      const update = mayAllow(r, 'cloudformation:UpdateStack') && await m.decide(r, 'cloudformation:UpdateStack', arn) === 'Allowed';
      const changeSet = mayAllow(r, 'cloudformation:CreateChangeSet') && mayAllow(r, 'cloudformation:ExecuteChangeSet')
        && await m.decide(r, 'cloudformation:CreateChangeSet', arn) === 'Allowed'
        && await m.decide(r, 'cloudformation:ExecuteChangeSet', arn) === 'Allowed';
      if (update || changeSet) out.push({ from: r.arn, to: roleArn, how: `${update ? 'cloudformation:UpdateStack' : 'change set'} of ${stack} (reuses its role)` });
    }
    // A new role: trusted by whoever creates it, with any policy, limited only by the boundary the creator must set.
    if (r.source !== 'created' && mayAllow(r, 'iam:CreateRole')) {
      const boundaries: Array<string | undefined> = [undefined, ...this.boundaryArns()];
      // Any name, or one under a stack's name (where a CloudFormation execution role may create them).
      const names = [`created-by-${r.name}`.slice(0, 64), ...[...m.stackRoles.keys()].map((stack) => `${stack}-created-by-${r.name}`.slice(0, 64))];
      for (const boundary of boundaries) {
        const context: Record<string, string> = boundary ? { 'iam:PermissionsBoundary': boundary } : {};
        let name: string | undefined;
        for (const candidate of names) {
          if (await m.decide(r, 'iam:CreateRole', `arn:aws:iam::${acct}:role/${candidate}`, context) === 'Allowed') {
            name = candidate;
            break;
          }
        }
        if (!name) continue;
        const arn = `arn:aws:iam::${acct}:role/${name}${boundary ? `-bounded-${boundary.split('/').pop()}` : ''}`;
        this.synthetic.set(arn, {
          arn,
          name,
          source: 'created',
          trust: { Statement: [] },
          policies: [{ name: 'admin', policy: ADMIN }],
          boundary: boundary ? m.managedPolicy(boundary) : undefined,
        });
        out.push({ from: r.arn, to: arn, how: `iam:CreateRole${boundary ? ` with boundary ${boundary.split('/').pop()}` : ' without boundary'}` });
        break;
      }
    }
    // New code in an existing function runs as the function's role.
    if (mayAllow(r, 'lambda:UpdateFunctionCode')) {
      for (const fn of this.functions) {
        if (fn.roleArn === r.arn) continue;
        if (await this.model.decide(r, 'lambda:UpdateFunctionCode', fn.arn) === 'Allowed') {
          out.push({ from: r.arn, to: fn.roleArn, how: `lambda:UpdateFunctionCode of ${fn.arn.split(':').pop()}` });
        }
      }
    }
    // Commands on an instance run as root there, with the instance role's credentials.
    if (mayAllow(r, 'ssm:SendCommand')) {
      for (const instance of this.instances) {
        if (await this.canRunCommand(r, instance)) out.push({ from: r.arn, to: instance.roleArn, how: `ssm:SendCommand on ${instance.arn}` });
      }
    }
    return out;
  }

  /**
   * Could `r` run arbitrary commands on `instance` through SSM Run Command? Yes if it may send
   * the instance a document that runs what the sender chooses: an AWS-owned one of
   * SHELL_DOCUMENTS, one of the account's documents with parameters, one it may create, or
   * one of the account's documents it may send and also rewrite.
   */
  public async canRunCommand(r: RoleModel, instance: InstanceModel): Promise<boolean> {
    return (await this.sendableDocuments(r, instance)).some((d) => d.arbitrary);
  }

  /** The documents `r` may send to `instance`, each marked whether it runs what the sender chooses. */
  public async sendableDocuments(r: RoleModel, instance: InstanceModel): Promise<Array<{ arn: string; arbitrary: boolean; why?: string }>> {
    if (!mayAllow(r, 'ssm:SendCommand')) return [];
    const m = this.model;
    const region = instance.arn.split(':')[3];
    const tags = Object.fromEntries(Object.entries(instance.tags).map(([k, v]) => [`ssm:resourceTag/${k}`, v]));
    if (await m.decide(r, 'ssm:SendCommand', instance.arn, tags) !== 'Allowed') return [];
    const send = async (arn: string) => await m.decide(r, 'ssm:SendCommand', arn) === 'Allowed';
    const out: Array<{ arn: string; arbitrary: boolean; why?: string }> = [];
    for (const name of SHELL_DOCUMENTS) {
      const arn = `arn:aws:ssm:${region}::document/${name}`;
      if (await send(arn)) out.push({ arn, arbitrary: true, why: 'runs what the sender passes' });
    }
    const created = `arn:aws:ssm:${region}:${m.account}:document/attacker-shell`;
    if (mayAllow(r, 'ssm:CreateDocument') && await m.decide(r, 'ssm:CreateDocument', created) === 'Allowed' && await send(created)) {
      out.push({ arn: created, arbitrary: true, why: 'a document it may create' });
    }
    for (const doc of this.documents.filter((d) => d.arn.split(':')[3] === region)) {
      if (!await send(doc.arn)) continue;
      const rewritable = mayAllow(r, 'ssm:UpdateDocument') && await m.decide(r, 'ssm:UpdateDocument', doc.arn) === 'Allowed'
        && await m.decide(r, 'ssm:UpdateDocumentDefaultVersion', doc.arn) === 'Allowed';
      const why = doc.hasParameters ? 'takes parameters' : rewritable ? 'it may rewrite the document' : undefined;
      out.push({ arn: doc.arn, arbitrary: why !== undefined, why });
    }
    return out;
  }

  /** Could `r` have CloudFormation run a new stack, or a change set of an existing one, as `roleArn`? */
  private async canCreateStack(r: RoleModel, region: string, roleArn: string): Promise<boolean> {
    const m = this.model;
    const ctx = { 'cloudformation:RoleArn': roleArn };
    const stacks = ['attacker', ...[...m.stackRoles].filter(([, s]) => s.region === region).map(([name]) => name)];
    for (const name of stacks) {
      const arn = `arn:aws:cloudformation:${region}:${m.account}:stack/${name}/00000000-0000-0000-0000-000000000000`;
      if (name === 'attacker' && mayAllow(r, 'cloudformation:CreateStack') && await m.decide(r, 'cloudformation:CreateStack', arn, ctx) === 'Allowed') return true;
      if (mayAllow(r, 'cloudformation:CreateChangeSet') && mayAllow(r, 'cloudformation:ExecuteChangeSet')
        && await m.decide(r, 'cloudformation:CreateChangeSet', arn, ctx) === 'Allowed'
        && await m.decide(r, 'cloudformation:ExecuteChangeSet', arn) === 'Allowed') return true;
    }
    return false;
  }

  private boundaryArns(): string[] {
    return [...this.model.managedPolicies.keys()];
  }
}

/** The path that reached `arn`, for messages: start -> ... -> arn. */
export function reachPath(reached: Map<string, Edge | undefined>, arn: string): string {
  const steps: string[] = [];
  let at: string | undefined = arn;
  while (at) {
    const edge = reached.get(at);
    if (!edge) break;
    steps.unshift(`${edge.how} -> ${short(edge.to)}`);
    at = edge.from;
  }
  return [short(at ?? arn), ...steps].join(' ');
}


/** Cheap pre-check: does any Allow statement name an action pattern matching `action`? */
export function mayAllow(r: RoleModel, action: string): boolean {
  return r.policies.some(({ policy }) => statements(policy).some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (s.NotAction) return true;
    return ([] as string[]).concat(s.Action ?? []).some((a) => wildcard(a).test(action));
  }));
}

export function statements(policy: PolicyDocument): Statement[] {
  return ([] as Statement[]).concat(policy.Statement ?? []);
}

export function trustsService(role: RoleModel, service: string): boolean {
  return statements(role.trust).some((s) => s.Effect === 'Allow'
    && ([] as string[]).concat(s.Principal?.Service ?? []).includes(service));
}

/** A role that can do anything (AdministratorAccess or `*` on `*`), boundary permitting. */
export function isAdministrator(role: RoleModel): boolean {
  return !role.boundary && role.policies.some(({ policy }) => statements(policy).some((s) => s.Effect === 'Allow'
    && ([] as string[]).concat(s.Action ?? []).includes('*') && ([] as string[]).concat(s.Resource ?? []).includes('*') && !s.Condition));
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
}

function short(arn: string): string {
  return arn.split(':').slice(5).join(':');
}
