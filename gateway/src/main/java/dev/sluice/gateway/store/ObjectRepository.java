package dev.sluice.gateway.store;

import java.util.Collection;
import java.util.List;
import java.util.Optional;

/** Stored objects of one {@link Kind}. Every write is committed when the method returns. */
public interface ObjectRepository {

    void insert(StoredObject object);

    /** Replaces the body, status and internal data of an existing object. Returns false if there is none. */
    boolean update(StoredObject object);

    Optional<StoredObject> get(String id);

    /** Deletes one object; returns whether it existed. */
    boolean delete(String id);

    /** Deletes every object of a parent (a thread's messages, a run's steps); returns how many. */
    int deleteByParent(String parentId);

    /** A page of a parent's objects (all objects when {@code parentId} is null), optionally only those with {@code refId}. */
    Page list(String parentId, String refId, PageRequest page);

    /** Every object of a parent in creation order. */
    List<StoredObject> all(String parentId);

    /** Objects whose status is one of {@code statuses}, in creation order. */
    List<StoredObject> withStatus(Collection<String> statuses);
}
