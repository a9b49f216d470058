import { z } from 'zod';
import {
  debianPackageNamePattern,
  debianVersionPattern,
  debianVersionProblem,
} from './debian-syntax.js';

/**
 * Field schemas shared by the manifest and the pipeline file. Patterns are regular expressions
 * (not refinements) wherever possible, so the generated JSON Schema checks them in editors too.
 */

const quoted = (input: unknown): string => JSON.stringify(input);

/** Text with at least one non-blank character. */
export const NonEmptyText = z.string().regex(/\S/, { error: 'must not be empty' });

/** Semantic version 2.0.0 without build metadata (`+…` would not order tags). */
export const ReleaseVersion = z
  .string()
  .regex(
    /^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?$/,
    {
      error: (issue) =>
        `expected a semantic version such as 4.5.0 (no "v", no "+build"), got ${quoted(issue.input)}`,
    },
  )
  .meta({ examples: ['4.5.0', '4.5.1', '5.0.0-rc.1'] });

export const DebianPackageName = z.string().regex(debianPackageNamePattern, {
  error: (issue) =>
    `invalid Debian package name ${quoted(issue.input)}: lower case letters, digits, "+", "-" and ".", at least two characters, starting with a letter or digit`,
});

export const DebianVersion = z
  .string()
  .regex(debianVersionPattern, { error: (issue) => debianVersionProblem(String(issue.input)) })
  .meta({
    description: 'An exact Debian version, [epoch:]upstream[-revision].',
    examples: ['5.2.15-2+b2', '1:2.38.1-5+deb12u3'],
  });

/** One path segment: not empty, not `.` or `..`, no slash. */
const segment = String.raw`(?!\.\.?(?:/|$))[^/\u0000\n\r]+`;

/** An absolute path inside the OS tree, e.g. `/etc/motd`. */
export const TreePath = z.string().regex(new RegExp(`^(?:/${segment})+$`), {
  error: (issue) =>
    `expected an absolute path without "." or ".." segments, empty segments or a trailing "/", got ${quoted(issue.input)}`,
});

/** A path relative to the root of the git repository, which must stay inside it. */
export const RepoPath = z.string().regex(new RegExp(`^${segment}(?:/${segment})*$`), {
  error: (issue) =>
    `expected a path relative to the repository root, without "." or ".." segments, got ${quoted(issue.input)}`,
});

/** A directory on the machine that runs the pipeline: absolute, or relative to the repository root. */
export const LocalPath = z
  .string()
  .regex(/^[^\n\r]+$/, { error: 'expected a path on one line' })
  .meta({ description: 'Absolute, or relative to the root of the git repository.' });
