namespace Ferry.Server.Auth;

/// <summary>The users of a users file: each change reads the file, changes it and writes it back atomically.</summary>
public sealed class UsersFileAdministration(string path) : IUserAdministration
{
    public string Description => path;

    public Task<UserListing> ListAsync(CancellationToken cancellationToken) => Task.FromResult(new UserListing(UsersFile.Load(path), []));

    public Task AddAsync(UserAccount user, CancellationToken cancellationToken)
    {
        var users = UsersFile.Load(path).ToList();
        if (users.Any(u => u.Name == user.Name))
            throw new ArgumentException($"User '{user.Name}' already exists; use 'ferry user set {user.Name} --new-key' for a new key.");
        users.Add(user);
        UsersFile.Save(path, users);
        return Task.CompletedTask;
    }

    public Task<UserAccount> UpdateAsync(string name, Func<UserAccount, UserAccount> change, CancellationToken cancellationToken)
    {
        var users = UsersFile.Load(path).ToList();
        var index = users.FindIndex(u => u.Name == name);
        if (index < 0)
            throw new ArgumentException($"There is no user '{name}'; add it with 'ferry user add {name}'.");
        users[index] = change(users[index]);
        UsersFile.Save(path, users);
        return Task.FromResult(users[index]);
    }

    public Task RemoveAsync(string name, CancellationToken cancellationToken)
    {
        var users = UsersFile.Load(path).ToList();
        if (users.RemoveAll(u => u.Name == name) == 0)
            throw new ArgumentException($"There is no user '{name}'.");
        UsersFile.Save(path, users);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
