// Where a file picked with the folder chooser sits in its folder: webkitRelativePath is
// "<top>/<sub path>/<name>"; the top name and the file's name are split off.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { folderPlace } from '../../renderer/src/features/files/media.ts';

describe('a picked folder file', () => {
  it('splits the top folder, the sub-path and the name', () => {
    assert.deepEqual(folderPlace({ name: 'main.ts', webkitRelativePath: 'Project/src/lib/main.ts' }), { top: 'Project', path: 'src/lib', name: 'main.ts' });
    assert.deepEqual(folderPlace({ name: 'README.md', webkitRelativePath: 'Project/README.md' }), { top: 'Project', path: '', name: 'README.md' });
  });

  it('is not part of a folder without a relative path (a file picked the ordinary way)', () => {
    assert.equal(folderPlace({ name: 'a.txt', webkitRelativePath: '' }), null);
    assert.equal(folderPlace({ name: 'a.txt', webkitRelativePath: 'a.txt' }), null);
  });
});
