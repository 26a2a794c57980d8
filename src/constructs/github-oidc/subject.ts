import { ValidationError } from '../../internal/validation-error';

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
/** Characters IAM's StringLike treats as wildcards, or that would end the claim segment. */
const PATTERN_CHARS = /[*?:\s]/;

/**
 * A GitHub repository as it appears in the `sub` claim of GitHub's OIDC tokens.
 *
 * GitHub has two formats. The classic one names the repository (`repo:octo-org/app:...`);
 * names can be renamed, deleted and then claimed by someone else, who would then match the
 * trust policy. The immutable one appends the owner's and the repository's numeric ids
 * (`repo:octo-org@123456/app@456789:...`), which are never reused. Repositories created
 * after 2026-06-18 (and renamed or transferred ones) use the immutable format; older ones
 * use it once opted in (repository or organisation settings > Actions > OIDC).
 *
 * @see https://docs.github.com/en/actions/reference/openid-connect-reference#immutable-subject-claims
 */
export class GitHubRepository {
  /**
   * A repository in the classic subject format, from `owner/name`.
   *
   * @param ownerAndName e.g. `shtetl/infrastructure`; no wildcards
   */
  public static fromName(ownerAndName: string): GitHubRepository {
    const parts = ownerAndName.split('/');
    if (parts.length !== 2 || !OWNER.test(parts[0]) || !NAME.test(parts[1])) {
      throw new ValidationError('GitHubRepository', undefined, `GitHub repository "${ownerAndName}" is not "owner/name" (letters, digits, "-", and "_." in the name; no wildcards). `
        + 'Trust one repository at a time, e.g. GitHubRepository.fromName(\'shtetl/infrastructure\').');
    }
    return new GitHubRepository(parts[0], parts[1], `${parts[0]}/${parts[1]}`);
  }

  /**
   * A repository in the immutable subject format (`owner@ownerId/name@repositoryId`).
   *
   * The ids are in the GitHub API: `gh api repos/OWNER/NAME --jq '.owner.id, .id'`.
   *
   * @param owner the owner (organisation or user) login, e.g. `shtetl`
   * @param ownerId the owner's numeric id
   * @param name the repository name, e.g. `infrastructure`
   * @param repositoryId the repository's numeric id
   */
  public static fromIds(owner: string, ownerId: number, name: string, repositoryId: number): GitHubRepository {
    if (!OWNER.test(owner) || !NAME.test(name)) {
      throw new ValidationError('GitHubRepository', undefined, `GitHub repository "${owner}/${name}" is not a valid owner and name (no wildcards). Pass the login and the repository name as GitHub shows them.`);
    }
    for (const [label, id] of [['ownerId', ownerId], ['repositoryId', repositoryId]] as const) {
      if (!Number.isSafeInteger(id) || id <= 0) {
        throw new ValidationError('GitHubRepository', undefined, `GitHub ${label} ${JSON.stringify(id)} of "${owner}/${name}" is not a positive whole number. `
          + `Read it with: gh api repos/${owner}/${name} --jq '.owner.id, .id'`);
      }
    }
    return new GitHubRepository(owner, name, `${owner}@${ownerId}/${name}@${repositoryId}`);
  }

  /** The owner login. */
  public readonly owner: string;
  /** The repository name. */
  public readonly name: string;
  /** How the repository appears in the subject claim: `owner/name` or `owner@id/name@id`. */
  public readonly subjectName: string;

  private constructor(owner: string, name: string, subjectName: string) {
    this.owner = owner;
    this.name = name;
    this.subjectName = subjectName;
  }
}

/**
 * One exact value of the `sub` claim that a {@link GitHubDeployRole} trusts.
 *
 * Each factory builds the claim GitHub puts in the token for that kind of job, and refuses
 * any value that is not one exact ref, environment or repository: the role's trust policy
 * compares with `StringEquals`, never with a pattern that admits any branch or tag.
 *
 * Note that a job which names an `environment` always gets the environment subject, whatever
 * branch or tag it runs on; trust the environment for such jobs, and let the environment's
 * deployment rules decide which branches and tags may use it.
 *
 * @see https://docs.github.com/en/actions/reference/openid-connect-reference#example-subject-claims
 */
export class GitHubSubject {
  /**
   * Jobs without an environment on one branch (`repo:OWNER/NAME:ref:refs/heads/BRANCH`).
   *
   * @param branch the exact branch name, e.g. `main` (not `refs/heads/main`, no wildcards)
   */
  public static branch(repository: GitHubRepository, branch: string): GitHubSubject {
    return new GitHubSubject(repository, `ref:refs/heads/${checkRef('branch', branch, 'refs/heads/', 'main')}`);
  }

  /**
   * Jobs without an environment on one tag (`repo:OWNER/NAME:ref:refs/tags/TAG`).
   *
   * For a family of tags (`v*-ami`), give the job an environment whose deployment rules
   * allow those tags, and trust {@link GitHubSubject.environment} instead.
   *
   * @param tag the exact tag name, e.g. `v1.2.0` (not `refs/tags/v1.2.0`, no wildcards)
   */
  public static tag(repository: GitHubRepository, tag: string): GitHubSubject {
    return new GitHubSubject(repository, `ref:refs/tags/${checkRef('tag', tag, 'refs/tags/', 'v1.2.0')}`);
  }

  /**
   * Jobs that run in one GitHub environment (`repo:OWNER/NAME:environment:NAME`), whatever
   * their trigger. Protect the environment (required reviewers, deployment branches) in
   * the repository settings: that protection is what guards the role.
   *
   * @param environment the exact environment name, e.g. `production`
   */
  public static environment(repository: GitHubRepository, environment: string): GitHubSubject {
    if (!environment || PATTERN_CHARS.test(environment) || environment.length > 255) {
      throw new ValidationError('GitHubSubject', undefined, `GitHub environment ${JSON.stringify(environment)} must be one exact environment name (no "*", "?", ":" or spaces). `
        + 'Use the name shown under Settings > Environments, e.g. "production".');
    }
    return new GitHubSubject(repository, `environment:${environment}`);
  }

  /**
   * Jobs triggered by a pull request (`repo:OWNER/NAME:pull_request`), from any branch of
   * the repository (GitHub gives no OIDC token to pull requests from forks). Anyone who can
   * push a branch can change the workflow in their pull request, so give such a role
   * read-only permissions.
   */
  public static pullRequest(repository: GitHubRepository): GitHubSubject {
    return new GitHubSubject(repository, 'pull_request');
  }

  /** The repository whose tokens this subject matches. */
  public readonly repository: GitHubRepository;
  /** The exact `sub` claim, e.g. `repo:shtetl/infrastructure:environment:production`. */
  public readonly value: string;

  private constructor(repository: GitHubRepository, context: string) {
    this.repository = repository;
    this.value = `repo:${repository.subjectName}:${context}`;
  }
}

function checkRef(kind: string, value: string, prefix: string, example: string): string {
  if (!value || PATTERN_CHARS.test(value) || /[\[~^\\]|\.\.|^\/|\/$/.test(value)) {
    throw new ValidationError('GitHubSubject', undefined, `GitHub ${kind} ${JSON.stringify(value)} must be one exact ${kind} name: wildcards ("*", "?") would let workflows of other `
      + `${kind === 'tag' ? 'tags' : 'branches'} assume the role, and ":" or spaces cannot be in a ref. Give e.g. "${example}"`
      + (kind === 'tag' ? ', or trust an environment whose deployment rules allow the tag pattern.' : '.'));
  }
  if (value.startsWith('refs/')) {
    throw new ValidationError('GitHubSubject', undefined, `GitHub ${kind} ${JSON.stringify(value)} must be the short name: drop the "${prefix}" prefix (e.g. "${example}").`);
  }
  return value;
}
